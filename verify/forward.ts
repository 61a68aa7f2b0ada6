import { createHash, randomBytes } from "node:crypto";
import net from "node:net";
import tls from "node:tls";
import { decodeMultiStream, encode, ExtData } from "@msgpack/msgpack";

/**
 * A client of the Fluent forward protocol (https://github.com/fluent/fluentd/wiki/Forward-Protocol-Specification-v1.5)
 * as the ingest endpoint's Fluent Bit speaks it (plugins/in_forward/fw_prot.c): TLS, the shared-key handshake with a
 * user and password, one batch of records and its ack.
 *
 * Not @fluent-org/logger: its handshake fails against Fluent Bit. Fluent Bit sends the HELO's nonce and user salt as
 * msgpack strings of 16 random bytes; that library decodes them as UTF-8 text and hashes the re-encoded text, so its
 * digests cover other bytes and Fluent Bit answers `shared_key mismatch` (tried by hand on Fluent Bit 5.1.1). Here
 * every string of the server's messages is read as raw bytes (`rawStrings`).
 */

export interface ForwardTarget {
  host: string;
  port: number;
  /** The CA (PEM) the server certificate must chain to: the only one trusted. */
  ca: string;
  /** The name the server certificate must carry; `host` by default (an IP address is checked against its IP names). */
  servername?: string;
  /** Plain TCP instead of TLS: only to show that the endpoint refuses such a client. */
  plaintext?: boolean;
}

export interface ForwardCredentials {
  sharedKey: string;
  username: string;
  password: string;
  /** The PING's client host name (the server's digest in its PONG covers its own). */
  clientHostname?: string;
}

export interface ForwardEntry {
  time: Date;
  record: Record<string, unknown>;
}

export interface ForwardOptions {
  /** For the whole exchange: connection, handshake, records and their ack. */
  timeoutMs: number;
}

/** What delivered records cost: the server's host name (from its PONG) and the chunk id it acknowledged. */
export interface ForwardReceipt {
  serverHostname: string;
  chunk: string;
}

/** The endpoint refused these credentials (or is not the endpoint they belong to). */
export class ForwardRefusedError extends Error {}

/** The connection failed or the server did not follow the protocol; `code` is the socket's error code when there is one. */
export class ForwardConnectionError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

/** The digests of the handshake: SHA-512 in lower-case hex over the parts one after the other. */
export function sha512Hex(...parts: (string | Uint8Array)[]): string {
  const hash = createHash("sha512");
  for (const part of parts) hash.update(part);
  return hash.digest("hex");
}

/** The forward protocol's EventTime: extension type 0, seconds and nanoseconds as two big-endian 32-bit integers. */
export function eventTime(time: Date): ExtData {
  const ms = time.getTime();
  const data = new Uint8Array(8);
  const view = new DataView(data.buffer);
  view.setUint32(0, Math.floor(ms / 1000));
  view.setUint32(4, (((ms % 1000) + 1000) % 1000) * 1_000_000);
  return new ExtData(0, data);
}

const text = (value: unknown): string | undefined =>
  value instanceof Uint8Array ? Buffer.from(value).toString("utf8") : typeof value === "string" ? value : undefined;

const bytes = (value: unknown): Uint8Array | undefined =>
  value instanceof Uint8Array ? value : typeof value === "string" ? Buffer.from(value, "utf8") : undefined;

/** The HELO's options, or undefined when the message is not a HELO. */
export function parseHelo(message: unknown): { nonce: Uint8Array; auth: Uint8Array } | undefined {
  if (!Array.isArray(message) || message.length !== 2 || text(message[0]) !== "HELO") return undefined;
  const options = message[1] as Record<string, unknown> | null;
  if (!options || typeof options !== "object") return undefined;
  const nonce = bytes(options.nonce);
  if (!nonce) return undefined;
  return { nonce, auth: bytes(options.auth) ?? new Uint8Array() };
}

/**
 * Sends records with one tag and waits for the server's ack. Rejects with ForwardRefusedError when the handshake
 * fails on the credentials, ForwardConnectionError for anything else (with the socket's code: ECONNREFUSED, ...).
 */
export async function sendForward(
  target: ForwardTarget, credentials: ForwardCredentials, tag: string, entries: ForwardEntry[], options: ForwardOptions,
): Promise<ForwardReceipt> {
  const socket: net.Socket = target.plaintext
    ? net.connect({ host: target.host, port: target.port })
    : tls.connect({
      host: target.host,
      port: target.port,
      ca: target.ca,
      // SNI takes a host name only; the certificate check below takes either.
      ...(net.isIP(target.servername ?? target.host) ? {} : { servername: target.servername ?? target.host }),
      checkServerIdentity: (_host, cert) => tls.checkServerIdentity(target.servername ?? target.host, cert),
    });
  // Failures reach the caller through the message reader below; this keeps a late one from going unhandled.
  socket.on("error", () => undefined);
  let stage = "connecting";
  const timer = setTimeout(() => {
    socket.destroy(new ForwardConnectionError(`no answer within ${options.timeoutMs / 1000}s while ${stage}`, "TIMEOUT"));
  }, options.timeoutMs);
  // Every string the server sends is read as bytes: the nonce and salt are random bytes in msgpack strings.
  const messages = decodeMultiStream<undefined>(socket, { rawStrings: true, maxStrLength: 65536, maxBinLength: 65536, maxArrayLength: 64, maxMapLength: 64 })[Symbol.asyncIterator]();
  const next = async (waitingFor: string, whenClosed: () => Error): Promise<unknown> => {
    stage = `waiting for the server's ${waitingFor}`;
    let result: IteratorResult<unknown>;
    try {
      result = await messages.next();
    } catch (err) {
      throw connectionError(err, stage);
    }
    if (result.done) throw whenClosed();
    return result.value;
  };
  const write = (message: unknown) => new Promise<void>((resolve, reject) => socket.write(encode(message), (err) => (err ? reject(connectionError(err, stage)) : resolve())));
  try {
    const helo = parseHelo(await next("HELO", () => new ForwardConnectionError(
      target.plaintext
        ? "the server closed the connection before its HELO (a TLS server ends a plain-TCP client's connection)"
        : "the server closed the connection before its HELO",
    )));
    if (!helo) throw new ForwardConnectionError("the server's first message is not a HELO: it does not ask for the shared key");
    const clientHostname = credentials.clientHostname ?? "aws-log-platform-verify";
    const salt = randomBytes(16).toString("hex");
    await write([
      "PING",
      clientHostname,
      salt,
      sha512Hex(salt, clientHostname, helo.nonce, credentials.sharedKey),
      credentials.username,
      sha512Hex(helo.auth, credentials.username, credentials.password),
    ]);
    // Fluent Bit ends the connection without a PONG when the shared key's digest does not match (fw_prot.c,
    // check_ping), and answers a PONG with false and the reason when the user or password does not.
    const pong = await next("PONG", () => new ForwardRefusedError(
      "the server closed the connection after the PING without a PONG: it does not hold this shared key",
    ));
    if (!Array.isArray(pong) || pong.length !== 5 || text(pong[0]) !== "PONG") throw new ForwardConnectionError("the server's answer to the PING is not a PONG");
    if (pong[1] !== true) throw new ForwardRefusedError(`the server refused ${credentials.username}: ${text(pong[2]) || "no reason given"}`);
    const serverHostname = text(pong[3]) ?? "";
    if (text(pong[4]) !== sha512Hex(salt, serverHostname, helo.nonce, credentials.sharedKey)) {
      throw new ForwardRefusedError("the server's PONG digest does not match: it does not hold this shared key");
    }
    const chunk = randomBytes(16).toString("base64");
    stage = "sending the records";
    await write([tag, entries.map((entry) => [eventTime(entry.time), entry.record]), { chunk, size: entries.length }]);
    const ack = await next("ack", () => new ForwardConnectionError("the server closed the connection before acknowledging the records"));
    const acked = ack && typeof ack === "object" && !Array.isArray(ack) ? text((ack as Record<string, unknown>).ack) : undefined;
    if (acked !== chunk) throw new ForwardConnectionError(`the server answered the records with something else than their ack: ${JSON.stringify(ack)}`);
    return { serverHostname, chunk };
  } finally {
    clearTimeout(timer);
    socket.end();
    socket.destroy();
  }
}

/** A socket or TLS failure as a ForwardConnectionError carrying its code; errors of this module pass unchanged. */
function connectionError(err: unknown, stage: string): Error {
  if (err instanceof ForwardConnectionError || err instanceof ForwardRefusedError) return err;
  const e = err as NodeJS.ErrnoException;
  return new ForwardConnectionError(`${e.message ?? String(err)} (while ${stage})`, e.code);
}
