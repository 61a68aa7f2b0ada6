import * as ipaddr from "ipaddr.js";

/** How many subnets the VPC range is split into: room for one per zone in up to three zones, and one spare. */
export const SUBNET_SLOTS = 4;

/** The VPC range split into SUBNET_SLOTS equal subnets, in address order. */
export function carveSubnets(vpcCidr: string): string[] {
  const [address, prefix] = ipaddr.IPv4.parseCIDR(vpcCidr);
  const subnetPrefix = prefix + Math.log2(SUBNET_SLOTS);
  const start = address.toByteArray().reduce((n, byte) => n * 256 + byte, 0);
  return Array.from({ length: SUBNET_SLOTS }, (_, i) => {
    const n = start + i * 2 ** (32 - subnetPrefix);
    return `${[24, 16, 8, 0].map((shift) => Math.floor(n / 2 ** shift) % 256).join(".")}/${subnetPrefix}`;
  });
}
