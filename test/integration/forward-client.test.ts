import { strict as assert } from "node:assert";
import { ForwardConnectionError, ForwardRefusedError, ForwardTarget, sendForward } from "../../verify/forward";
import { ForwardPki, ForwardServerStandIn, makeForwardPki } from "../helpers/forward-server-stand-in";

/**
 * verify's forward client (verify/forward.ts, what `npm run verify` sends its ingest record with) against the stand-in
 * of the endpoint's forward input (test/helpers/forward-server-stand-in.ts, the handshake of Fluent Bit 5.1.1's
 * fw_prot.c): delivered with the right credentials, refused with a wrong key, a wrong password or without TLS.
 */
describe("forward-protocol client against the forward input's stand-in", function () {
  this.timeout(60_000);
  const HOST = "127.0.0.111";
  const SHARED_KEY = "shared-key-of-the-stack";
  const USERS = { platform: "platform-password", team: "team-password" };
  let pki: ForwardPki;
  let server: ForwardServerStandIn;

  before(async () => {
    pki = makeForwardPki(["127.0.0.111", "127.0.0.112"]);
    server = await ForwardServerStandIn.start({ host: HOST, key: pki.key, cert: pki.cert, sharedKey: SHARED_KEY, users: USERS, handshakeTimeoutMs: 1000 });
  });
  after(async () => {
    await server?.close();
    pki?.cleanup();
  });
  beforeEach(() => {
    server.received.length = 0;
    server.refusals.length = 0;
  });

  const target = (): ForwardTarget => ({ host: HOST, port: server.port, ca: pki.ca });
  const good = { sharedKey: SHARED_KEY, username: "platform", password: USERS.platform };
  const time = new Date("2025-06-01T10:00:00.123Z");
  const send = (overrides: Partial<ForwardTarget> = {}, credentials = good) =>
    sendForward({ ...target(), ...overrides }, credentials, "platform-verify", [{ time, record: { log: "marked line m-1" } }], { timeoutMs: 5000 });

  it("delivers with the right key, user and password: the records arrive with their tag and time, and are acked", async () => {
    const receipt = await sendForward(target(), good, "platform-verify", [
      { time, record: { log: "first", "log.level": "info" } },
      { time: new Date(time.getTime() + 1), record: { log: "second", nested: { a: 1 } } },
    ], { timeoutMs: 5000 });
    assert.equal(receipt.serverHostname, "ingest");
    assert.deepEqual(server.received.map((r) => [r.tag, r.user, (r.time as Date).toISOString(), r.record]), [
      ["platform-verify", "platform", "2025-06-01T10:00:00.123Z", { log: "first", "log.level": "info" }],
      ["platform-verify", "platform", "2025-06-01T10:00:00.124Z", { log: "second", nested: { a: 1 } }],
    ]);
    assert.deepEqual(server.refusals, []);
    // Another source's user works the same way.
    await send({}, { sharedKey: SHARED_KEY, username: "team", password: USERS.team });
    assert.equal(server.received.at(-1)?.user, "team");
  });

  it("is refused with a wrong shared key: the server ends the connection after the PING, no record arrives", async () => {
    await assert.rejects(send({}, { ...good, sharedKey: "not-the-key" }), (err: Error) => {
      assert.ok(err instanceof ForwardRefusedError, String(err));
      assert.match(err.message, /closed the connection after the PING without a PONG: it does not hold this shared key/);
      return true;
    });
    assert.deepEqual(server.refusals, ["shared_key mismatch"]);
    assert.equal(server.received.length, 0);
  });

  it("is refused with a wrong password, and with an unknown user: a PONG saying so", async () => {
    for (const credentials of [{ ...good, password: "wrong" }, { ...good, username: "nobody" }]) {
      await assert.rejects(send({}, credentials), (err: Error) => {
        assert.ok(err instanceof ForwardRefusedError, String(err));
        assert.equal(err.message, `the server refused ${credentials.username}: username/password mismatch`);
        return true;
      });
    }
    assert.deepEqual(server.refusals, ["user authentication is failed", "user authentication is failed"]);
    assert.equal(server.received.length, 0);
  });

  it("is refused without TLS: the TLS server never says HELO to a plain-TCP client and drops it", async () => {
    await assert.rejects(send({ plaintext: true }), (err: Error) => {
      assert.ok(err instanceof ForwardConnectionError, String(err));
      assert.match(err.message, /closed the connection before its HELO/);
      return true;
    });
    assert.equal(server.received.length, 0);
    assert.match(server.refusals.join("\n"), /^tls: /m);
  });

  it("does not talk to a server whose certificate another CA signed, or that does not carry the address asked for", async () => {
    await assert.rejects(send({ ca: pki.otherCa }), (err: Error) => {
      assert.ok(err instanceof ForwardConnectionError, String(err));
      assert.match(err.message, /self[- ]signed|unable to (get|verify)/i);
      return true;
    });
    await assert.rejects(send({ servername: "127.0.0.113" }), /IP: 127\.0\.0\.113 is not in the cert's list/);
    assert.equal(server.received.length, 0);
  });

  it("names the socket's error when nothing listens, and gives up in time on a server that never answers", async () => {
    await assert.rejects(send({ host: "127.0.0.112" }), (err: Error) => err instanceof ForwardConnectionError && err.code === "ECONNREFUSED");
    const silent = await ForwardServerStandIn.start({ host: "127.0.0.112", key: pki.key, cert: pki.cert, sharedKey: SHARED_KEY, users: USERS });
    // A plain-TCP client of a TLS server that waits for it: no HELO, and the client's own timeout ends it.
    try {
      const started = Date.now();
      await assert.rejects(sendForward({ host: "127.0.0.112", port: silent.port, ca: pki.ca, plaintext: true }, good, "t", [], { timeoutMs: 300 }),
        (err: Error) => err instanceof ForwardConnectionError && err.code === "TIMEOUT" && /waiting for the server's HELO/.test(err.message));
      assert.ok(Date.now() - started < 1500);
    } finally {
      await silent.close();
    }
  });
});
