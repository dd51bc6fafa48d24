// Supabase Realtime through the real supabase-js (realtime-js over `ws`): record changes
// decided by the demo project's rules (each end user reads only their own todos), a filtered
// subscription, broadcast between two clients, presence, a private channel refused without
// its rule; serializers 1.0.0 and 2.0.0. Writes go through the platform's own client API
// (/client/v1/collections/todos/records/), so this file does not depend on /rest/v1.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { client, publishableKey, signedIn } from "./client.mjs";

const platform = process.env.PLATFORM_URL;
const VERSIONS = ["1.0.0", "2.0.0"];
const clients = [];

// Leave the channels, then close the socket itself: realtime-js's own disconnect() leaves a
// 10 s timer running, which would keep node alive after the last test.
after(async () => {
  await Promise.all(
    clients.map(async (c) => {
      await Promise.all(c.getChannels().map((channel) => c.removeChannel(channel)));
      c.realtime._cancelPendingDisconnect();
      await new Promise((done) => c.realtime.socketAdapter.getSocket().disconnect(done));
    }),
  );
});

function realtimeClient(token, vsn) {
  const options = { realtime: { transport: WebSocket, vsn } };
  if (token) options.accessToken = async () => token;
  const made = client(publishableKey, options);
  clients.push(made);
  return made;
}

async function user(vsn) {
  const { token, user: who } = await signedIn("rt");
  return { token, id: who.id, db: realtimeClient(token, vsn) };
}

async function write(token, method, body, id = "") {
  const response = await fetch(`${platform}/client/v1/collections/todos/records/${id}`, {
    method,
    headers: {
      apikey: publishableKey,
      authorization: `Bearer ${token}`,
      "content-type": "application/json",
    },
    body: body === undefined ? undefined : JSON.stringify({ data: body }),
  });
  assert.ok(response.ok, `${method} ${response.status} ${await response.clone().text()}`);
  return response.status === 204 ? null : response.json();
}

// Resolves on SUBSCRIBED; rejects with the first error status.
function subscribe(channel) {
  return new Promise((resolve, reject) => {
    channel.subscribe((status, err) => {
      if (status === "SUBSCRIBED") resolve(channel);
      else if (status !== "CLOSED") reject(err ?? new Error(status));
    });
  });
}

async function until(check, what, ms = 8000) {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

const settle = () => new Promise((r) => setTimeout(r, 400));
let rooms = 0;
const room = (name) => `${name}-${process.pid}-${++rooms}`;

for (const vsn of VERSIONS) {
  test(`vsn ${vsn}: INSERT/UPDATE/DELETE of one's own rows only`, async () => {
    const ann = await user(vsn);
    const bob = await user(vsn);
    const heard = [];
    await subscribe(
      ann.db
        .channel(room("todos"))
        .on("postgres_changes", { event: "*", schema: "public", table: "todos" }, (p) =>
          heard.push(p),
        ),
    );
    const bobs = await write(bob.token, "POST", { title: "bob's", done: false });
    const mine = await write(ann.token, "POST", { title: "ann's", done: false });
    await until(() => heard.length >= 1, "ann's insert");
    await write(bob.token, "PATCH", { done: true }, `${bobs.id}/`);
    await write(ann.token, "PATCH", { done: true }, `${mine.id}/`);
    await write(bob.token, "DELETE", undefined, `${bobs.id}/`);
    await write(ann.token, "DELETE", undefined, `${mine.id}/`);
    await until(() => heard.length >= 3, "ann's update and delete");
    await settle();

    assert.deepEqual(
      heard.map((p) => p.eventType),
      ["INSERT", "UPDATE", "DELETE"],
    );
    const [inserted, updated, deleted] = heard;
    assert.equal(inserted.table, "todos");
    assert.equal(inserted.schema, "public");
    assert.ok(!Number.isNaN(Date.parse(inserted.commit_timestamp)));
    assert.equal(inserted.new.id, mine.id);
    assert.equal(inserted.new.user_id, ann.id);
    assert.equal(inserted.new.title, "ann's");
    assert.equal(inserted.new.done, false);
    assert.ok(inserted.new.created_at && inserted.new.updated_at);
    assert.deepEqual(inserted.old, {});
    assert.equal(updated.new.done, true);
    assert.deepEqual(updated.old, { id: mine.id });
    assert.deepEqual(deleted.new, {});
    assert.equal(deleted.old.id, mine.id);
    assert.ok(heard.every((p) => (p.new.id ?? p.old.id) === mine.id), "none of bob's rows");
  });

  test(`vsn ${vsn}: a filtered subscription`, async () => {
    const ann = await user(vsn);
    const urgent = [];
    const exact = [];
    const channel = ann.db
      .channel(room("filtered"))
      .on(
        "postgres_changes",
        { event: "INSERT", schema: "public", table: "todos", filter: "priority=gte.2" },
        (p) => urgent.push(p.new.title),
      )
      .on(
        "postgres_changes",
        { event: "*", schema: "public", table: "todos", filter: "title=in.(b,c)" },
        (p) => exact.push(`${p.eventType} ${p.new.title ?? p.old.title}`),
      );
    await subscribe(channel);
    for (const [title, priority] of [["a", 1], ["b", 3], ["c", 2], ["d", 5]]) {
      await write(ann.token, "POST", { title, priority });
    }
    await until(() => urgent.length >= 3 && exact.length >= 2, "the filtered inserts");
    await settle();
    assert.deepEqual(urgent, ["b", "c", "d"]);
    assert.deepEqual(exact, ["INSERT b", "INSERT c"]);
  });

  test(`vsn ${vsn}: broadcast between two clients (self, ack)`, async () => {
    const name = room("room");
    const a = realtimeClient(null, vsn);
    const b = realtimeClient(null, vsn);
    const heardByA = [];
    const heardByB = [];
    const chanA = a
      .channel(name, { config: { broadcast: { self: false } } })
      .on("broadcast", { event: "cursor" }, (m) => heardByA.push(m.payload));
    const chanB = b
      .channel(name, { config: { broadcast: { self: true, ack: true } } })
      .on("broadcast", { event: "cursor" }, (m) => heardByB.push(m.payload))
      .on("broadcast", { event: "other" }, () => heardByB.push("other"));
    await subscribe(chanA);
    await subscribe(chanB);

    assert.equal(await chanA.send({ type: "broadcast", event: "cursor", payload: { x: 1 } }), "ok");
    await until(() => heardByB.length === 1, "b hearing a");
    // ack: the promise resolves on the server's reply; self: b hears itself too.
    assert.equal(await chanB.send({ type: "broadcast", event: "cursor", payload: { x: 2 } }), "ok");
    await until(() => heardByA.length === 1 && heardByB.length === 2, "both hearing b");
    await settle();
    assert.deepEqual(heardByA, [{ x: 2 }]); // a (self: false) never hears its own
    assert.deepEqual(heardByB, [{ x: 1 }, { x: 2 }]);
  });

  test(`vsn ${vsn}: presence sync, join and leave`, async () => {
    const name = room("lobby");
    const a = realtimeClient(null, vsn);
    const b = realtimeClient(null, vsn);
    const joins = [];
    const leaves = [];
    let syncs = 0;
    const chanA = a.channel(name, { config: { presence: { key: "alice" } } });
    const chanB = b
      .channel(name, { config: { presence: { key: "bob" } } })
      .on("presence", { event: "sync" }, () => (syncs += 1))
      .on("presence", { event: "join" }, ({ key, newPresences }) => joins.push([key, newPresences]))
      .on("presence", { event: "leave" }, ({ key, leftPresences }) =>
        leaves.push([key, leftPresences]),
      );
    await subscribe(chanB);
    await subscribe(chanA);
    assert.equal(await chanA.track({ status: "online" }), "ok");
    await until(() => "alice" in chanB.presenceState(), "alice in bob's state");
    assert.equal(chanB.presenceState().alice[0].status, "online");
    assert.ok(chanB.presenceState().alice[0].presence_ref);
    assert.equal(joins[0][0], "alice");
    assert.equal(joins[0][1][0].status, "online");
    assert.ok(syncs >= 2); // the state after the join, then the diff

    assert.equal(await chanA.untrack(), "ok");
    await until(() => !("alice" in chanB.presenceState()), "alice gone from bob's state");
    assert.equal(leaves[0][0], "alice");

    // A newcomer gets the state as it is: bob tracked, alice not.
    assert.equal(await chanB.track({ status: "away" }), "ok");
    const c = realtimeClient(null, vsn);
    const chanC = c
      .channel(name, { config: { presence: { key: "carol" } } })
      .on("presence", { event: "sync" }, () => {});
    await subscribe(chanC);
    await until(() => "bob" in chanC.presenceState(), "bob in carol's state");
    assert.deepEqual(Object.keys(chanC.presenceState()), ["bob"]);
    assert.equal(chanC.presenceState().bob[0].status, "away");
  });
}

test("a private channel without a rule naming it is refused", async () => {
  const ann = await user("2.0.0");
  const channel = ann.db.channel(room("vip"), { config: { private: true } });
  const error = await subscribe(channel).then(
    () => null,
    (err) => err,
  );
  assert.ok(error, "the join was refused");
  assert.match(String(error.message), /Unauthorized/);
  await ann.db.removeChannel(channel);
});
