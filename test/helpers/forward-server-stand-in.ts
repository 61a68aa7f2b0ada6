import { strict as assert } from "node:assert";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import { AddressInfo } from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { PassThrough } from "node:stream";
import tls from "node:tls";
import { gunzipSync } from "node:zlib";
import { decodeMulti, decodeMultiStream, encode, ExtensionCodec } from "@msgpack/msgpack";
import { sha512Hex } from "../../verify/forward";
import { runTool } from "./tools";

/**
 * A stand-in for the ingest endpoint's forward input (no Fluent Bit runs in the tests): a TLS server speaking the
 * Fluent forward protocol's handshake exactly as Fluent Bit 5.1.1's in_forward does (plugins/in_forward/fw_prot.c):
 * - at once after the TLS handshake, a HELO whose nonce and user-auth salt are msgpack *strings* of 16 random bytes
 *   (send_helo);
 * - the client's PING must be an array of 6 strings (bin is refused), read within 1023 bytes (check_ping);
 * - the shared key's digest is sha512_hex(salt + client hostname + nonce + shared_key); a mismatch ends the
 *   connection without a PONG;
 * - with users, the user must exist and its digest (128 hex characters) be sha512_hex(auth salt + username +
 *   password), else a PONG [false, "username/password mismatch", "", ""] and the connection ends;
 * - otherwise a PONG [true, "", self_hostname, sha512_hex(salt + self_hostname + nonce + shared_key)];
 * - then Message, Forward, PackedForward and CompressedPackedForward messages, each acked with {ack: chunk} when its
 *   options carry a chunk (send_ack).
 * A client that does not speak TLS fails the TLS handshake (or times out in it) and is disconnected. What the stand-in
 * does not model: the record limits (buffer_max_size), metadata, and everything after the input.
 */

export interface ForwardStandInOptions {
  host: string;
  port?: number;
  key: Buffer | string;
  cert: Buffer | string;
  sharedKey: string;
  /** `security.users`: name to password. Empty: no user check (Fluent Bit then ignores the PING's user fields). */
  users: Record<string, string>;
  selfHostname?: string;
  /** How long a connection may take to finish the TLS handshake (Fluent Bit: net.accept_timeout, 10 s). */
  handshakeTimeoutMs?: number;
}

export interface ReceivedRecord {
  tag: string;
  time: Date | number;
  record: Record<string, unknown>;
  /** The user the connection authenticated as. */
  user: string;
}

/** A msgpack string or bin as it came on the wire: fw_prot.c accepts only strings in a PING. */
interface RawValue { type: "str" | "bin" | "other"; bytes: Buffer }

const MAX_HANDSHAKE_READ = 1023;

/** A msgpack str header and body for raw bytes (what Fluent Bit's msgpack_pack_str_body writes). */
function rawString(bytes: Uint8Array): Buffer {
  const n = bytes.length;
  const header = n < 32 ? Buffer.from([0xa0 | n]) : n < 256 ? Buffer.from([0xd9, n]) : Buffer.from([0xda, n >> 8, n & 0xff]);
  return Buffer.concat([header, bytes]);
}

/** The HELO as send_helo packs it: ["HELO", {"nonce": str(16 bytes), "auth": str(16 bytes)}]. */
export function heloBytes(nonce: Uint8Array, auth: Uint8Array): Buffer {
  const str = (s: string) => rawString(Buffer.from(s, "utf8"));
  return Buffer.concat([Buffer.from([0x92]), str("HELO"), Buffer.from([0x82]), str("nonce"), rawString(nonce), str("auth"), rawString(auth)]);
}

/**
 * One PING read as check_ping reads it: an array of strings and binaries kept as bytes with their types. "more" while
 * incomplete; an Error when it is not an array of 6 such values.
 */
export function readPing(buf: Buffer): { values: RawValue[]; used: number } | "more" | Error {
  let pos = 0;
  const need = (n: number) => pos + n <= buf.length;
  if (!need(1)) return "more";
  const head = buf[pos++];
  let count: number;
  if ((head & 0xf0) === 0x90) count = head & 0x0f;
  else if (head === 0xdc) {
    if (!need(2)) return "more";
    count = buf.readUInt16BE(pos);
    pos += 2;
  } else return new Error("Invalid PING message");
  if (count !== 6) return new Error("Invalid PING message");
  const values: RawValue[] = [];
  for (let i = 0; i < count; i++) {
    if (!need(1)) return "more";
    const b = buf[pos++];
    let type: RawValue["type"];
    let length: number;
    const size = (bytes: 1 | 2 | 4) => {
      const v = bytes === 1 ? buf[pos] : bytes === 2 ? buf.readUInt16BE(pos) : buf.readUInt32BE(pos);
      pos += bytes;
      return v;
    };
    if ((b & 0xe0) === 0xa0) [type, length] = ["str", b & 0x1f];
    else if (b >= 0xd9 && b <= 0xdb) {
      const bytes = ([1, 2, 4] as const)[b - 0xd9];
      if (!need(bytes)) return "more";
      [type, length] = ["str", size(bytes)];
    } else if (b >= 0xc4 && b <= 0xc6) {
      const bytes = ([1, 2, 4] as const)[b - 0xc4];
      if (!need(bytes)) return "more";
      [type, length] = ["bin", size(bytes)];
    } else return new Error(`Invalid PING: element ${i} is neither a string nor binary`);
    if (!need(length)) return "more";
    values.push({ type, bytes: buf.subarray(pos, pos + length) });
    pos += length;
  }
  return { values, used: pos };
}

const eventTimeCodec = new ExtensionCodec();
eventTimeCodec.register({
  type: 0,
  encode: () => null,
  decode: (data: Uint8Array) => {
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    return new Date(view.getUint32(0) * 1000 + Math.floor(view.getUint32(4) / 1_000_000));
  },
});

type Entry = [Date | number, Record<string, unknown>];

/** The entries and chunk of one transport message, in any of the protocol's four modes. */
export function parseTransport(message: unknown): { tag: string; entries: Entry[]; chunk?: string } {
  if (!Array.isArray(message) || typeof message[0] !== "string") throw new Error("not a transport message");
  const [tag, second, third, fourth] = message as [string, unknown, unknown, unknown];
  if (typeof second === "number" || second instanceof Date) {
    return { tag, entries: [[second, third as Record<string, unknown>]], chunk: (fourth as { chunk?: string } | undefined)?.chunk };
  }
  const options = third as { chunk?: string; compressed?: string } | undefined;
  if (Array.isArray(second)) return { tag, entries: second as Entry[], chunk: options?.chunk };
  if (second instanceof Uint8Array) {
    const packed = options?.compressed === "gzip" ? gunzipSync(second) : second;
    return { tag, entries: [...decodeMulti(packed, { extensionCodec: eventTimeCodec })] as Entry[], chunk: options?.chunk };
  }
  throw new Error("not a transport message");
}

/** The forward input of the ingest endpoint, stood in for. */
export class ForwardServerStandIn {
  readonly received: ReceivedRecord[] = [];
  /** Why connections were ended, in Fluent Bit's words where it logs them. */
  readonly refusals: string[] = [];
  private readonly server: tls.Server;

  private constructor(private readonly options: ForwardStandInOptions) {
    this.server = tls.createServer({ key: options.key, cert: options.cert, handshakeTimeout: options.handshakeTimeoutMs ?? 2000 });
    // A listener of its own keeps the socket open (Node destroys it only when nobody listens): close it, as Fluent Bit does.
    this.server.on("tlsClientError", (err, socket) => {
      this.refusals.push(`tls: ${err.message}`);
      socket.destroy();
    });
    this.server.on("secureConnection", (socket) => void this.serve(socket).catch((err: Error) => {
      this.refusals.push(err.message);
      socket.destroy();
    }));
  }

  static async start(options: ForwardStandInOptions): Promise<ForwardServerStandIn> {
    const standIn = new ForwardServerStandIn(options);
    await new Promise<void>((resolve, reject) => {
      standIn.server.once("error", reject);
      standIn.server.listen(options.port ?? 0, options.host, resolve);
    });
    return standIn;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async serve(socket: tls.TLSSocket): Promise<void> {
    const selfHostname = this.options.selfHostname ?? "ingest";
    const nonce = randomBytes(16);
    const auth = randomBytes(16);
    socket.write(heloBytes(nonce, auth));
    const ping = await this.readPingFrom(socket);
    const [kind, hostname, salt, digest, username, passwordDigest] = ping.values;
    if (ping.values.some((v) => v.type !== "str") || kind.bytes.toString() !== "PING") {
      throw new Error("Invalid PING type message");
    }
    // check_ping: the shared key first; a mismatch ends the connection with no PONG.
    if (digest.bytes.toString() !== sha512Hex(salt.bytes, hostname.bytes, nonce, this.options.sharedKey)) {
      throw new Error("shared_key mismatch");
    }
    const name = username.bytes.toString();
    const users = Object.entries(this.options.users);
    const userOk = users.length === 0 || users.some(([user, password]) =>
      user === name && passwordDigest.bytes.length === 128 && passwordDigest.bytes.toString() === sha512Hex(auth, user, password));
    if (!userOk) {
      socket.write(encode(["PONG", false, "username/password mismatch", "", ""]));
      socket.end();
      throw new Error("user authentication is failed");
    }
    socket.write(encode(["PONG", true, "", selfHostname, sha512Hex(salt.bytes, selfHostname, nonce, this.options.sharedKey)]));
    for await (const message of decodeMultiStream(ping.rest, { extensionCodec: eventTimeCodec })) {
      const { tag, entries, chunk } = parseTransport(message);
      for (const [time, record] of entries) this.received.push({ tag, time, record, user: name });
      if (chunk !== undefined) socket.write(encode({ ack: chunk }));
    }
  }

  /** Reads the PING from the socket's first bytes; what follows it is passed on in `rest`. */
  private readPingFrom(socket: tls.TLSSocket): Promise<{ values: RawValue[]; rest: PassThrough }> {
    return new Promise((resolve, reject) => {
      let buffered = Buffer.alloc(0);
      const onData = (chunk: Buffer) => {
        buffered = Buffer.concat([buffered, chunk]);
        const ping = readPing(buffered);
        if (ping === "more") {
          if (buffered.length > MAX_HANDSHAKE_READ) fail(new Error("handshake error expecting PING"));
          return;
        }
        if (ping instanceof Error) return fail(ping);
        socket.off("data", onData);
        socket.off("end", onEnd);
        const rest = new PassThrough();
        rest.write(buffered.subarray(ping.used));
        socket.pipe(rest);
        resolve({ values: ping.values, rest });
      };
      const onEnd = () => fail(new Error("handshake error expecting PING"));
      const fail = (err: Error) => {
        socket.off("data", onData);
        socket.off("end", onEnd);
        reject(err);
      };
      socket.on("data", onData);
      socket.on("end", onEnd);
      socket.on("error", () => undefined);
    });
  }
}

/** A CA, a server certificate it signed for the stand-in's addresses, and a CA that signed nothing here (openssl). */
export interface ForwardPki {
  dir: string;
  ca: string;
  otherCa: string;
  key: Buffer;
  cert: Buffer;
  cleanup(): void;
}

/** The names the endpoint's certificate carries in the stack (127.0.0.1, localhost) plus the tests' loopback addresses. */
export function makeForwardPki(addresses: string[]): ForwardPki {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "forward-pki-"));
  const openssl = (...args: string[]) => {
    const result = runTool("openssl", args, "openssl", { cwd: dir });
    assert.equal(result.status, 0, `openssl ${args.join(" ")}: ${result.stderr}`);
  };
  const sans = [...new Set([...addresses, "127.0.0.1"])].map((ip) => `IP:${ip}`).concat("DNS:localhost").join(",");
  fs.writeFileSync(path.join(dir, "server.ext"), `basicConstraints=CA:FALSE\nsubjectAltName=${sans}\nextendedKeyUsage=serverAuth\n`);
  for (const ca of ["ca", "other-ca"]) {
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", `${ca}.key`, "-subj", `/CN=test ${ca}`, "-days", "2", "-out", `${ca}.crt`);
  }
  openssl("req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-subj", "/CN=ingest", "-out", "server.csr");
  openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "server.ext", "-out", "server.crt");
  return {
    dir,
    ca: fs.readFileSync(path.join(dir, "ca.crt"), "utf8"),
    otherCa: fs.readFileSync(path.join(dir, "other-ca.crt"), "utf8"),
    key: fs.readFileSync(path.join(dir, "server.key")),
    cert: fs.readFileSync(path.join(dir, "server.crt")),
    cleanup: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}
