// supabase-js's database client (postgrest-js) against /rest/v1: the demo project's `todos`
// (each signed-in end user reads and writes only their own rows) and `posts` (made by
// tests/compat/test_rest.py: anon may read the published ones; the secret key writes).
import assert from "node:assert/strict";
import { test } from "node:test";
import { client, secretKey, signedIn } from "./client.mjs";

const ann = await signedIn("ann");
const bob = await signedIn("bob");
const anon = client();
const server = client(secretKey);

function ok(result, status) {
  assert.equal(result.error, null, JSON.stringify(result.error));
  if (status) assert.equal(result.status, status);
  return result.data;
}

test("insert many, then filter, order, range and count", async () => {
  const rows = ok(
    await ann.client
      .from("todos")
      .insert([
        { title: "Buy milk", n: 1, done: false, tags: ["home"] },
        { title: "Write report", n: 2, done: true, tags: ["work", "urgent"] },
        { title: "Call Bob", n: 3, done: false, tags: ["work"], due: null },
      ])
      .select(),
    201,
  );
  assert.equal(rows.length, 3);
  for (const row of rows) {
    assert.equal(row.user_id, ann.user.id);
    assert.ok(row.id && row.created_at && row.updated_at);
  }
  const titles = (data) => data.map((row) => row.title);
  const desc = ok(await ann.client.from("todos").select("title,n").gte("n", 2).order("n", { ascending: false }));
  assert.deepEqual(desc, [{ title: "Call Bob", n: 3 }, { title: "Write report", n: 2 }]);
  assert.deepEqual(titles(ok(await ann.client.from("todos").select().eq("done", false).order("n"))), [
    "Buy milk",
    "Call Bob",
  ]);
  assert.deepEqual(titles(ok(await ann.client.from("todos").select().in("n", [1, 3]).order("n"))), [
    "Buy milk",
    "Call Bob",
  ]);
  assert.deepEqual(titles(ok(await ann.client.from("todos").select().ilike("title", "%BOB%"))), ["Call Bob"]);
  assert.deepEqual(titles(ok(await ann.client.from("todos").select().or("n.eq.1,title.eq.Call Bob").order("n"))), [
    "Buy milk",
    "Call Bob",
  ]);
  assert.deepEqual(titles(ok(await ann.client.from("todos").select().not("n", "eq", 2).order("n"))), [
    "Buy milk",
    "Call Bob",
  ]);
  assert.deepEqual(titles(ok(await ann.client.from("todos").select().contains("tags", ["work"]).order("n"))), [
    "Write report",
    "Call Bob",
  ]);
  assert.deepEqual(titles(ok(await ann.client.from("todos").select().is("due", null).order("n"))), [
    "Buy milk",
    "Write report",
    "Call Bob",
  ]);
  assert.deepEqual(
    ok(await ann.client.from("todos").select("title").textSearch("title", "report", { type: "plain" })),
    [{ title: "Write report" }],
  );
  const page = await ann.client.from("todos").select("n", { count: "exact" }).order("n").range(1, 2);
  assert.deepEqual(ok(page), [{ n: 2 }, { n: 3 }]);
  assert.equal(page.count, 3);
  const head = await ann.client.from("todos").select("*", { count: "exact", head: true }).eq("done", false);
  assert.equal(head.error, null);
  assert.equal(head.count, 2);
  const planned = await ann.client.from("todos").select("n", { count: "planned" }).limit(1);
  assert.equal(planned.error, null);
  assert.equal(typeof planned.count, "number");
});

test(".single() and .maybeSingle()", async () => {
  const [row] = ok(await ann.client.from("todos").insert({ title: "Only one", n: 10 }).select());
  const single = ok(await ann.client.from("todos").select("title").eq("id", row.id).single());
  assert.deepEqual(single, { title: "Only one" });
  const none = await ann.client.from("todos").select().eq("n", 999).single();
  assert.equal(none.error.code, "PGRST116");
  assert.equal(none.status, 406);
  const maybe = await ann.client.from("todos").select().eq("n", 999).maybeSingle();
  assert.equal(maybe.error, null);
  assert.equal(maybe.data, null);
  const many = await ann.client.from("todos").select().maybeSingle();
  assert.equal(many.error.code, "PGRST116");
});

test("another end user can neither see nor change the rows", async () => {
  const [row] = ok(await ann.client.from("todos").insert({ title: "Private", n: 20 }).select());
  assert.deepEqual(ok(await bob.client.from("todos").select().eq("id", row.id)), []);
  const single = await bob.client.from("todos").select().eq("id", row.id).single();
  assert.equal(single.error.code, "PGRST116");
  const changed = await bob.client.from("todos").update({ title: "Mine" }).eq("id", row.id).select();
  assert.deepEqual(ok(changed), []);
  const counted = await bob.client.from("todos").update({ title: "Mine" }, { count: "exact" }).eq("id", row.id);
  assert.equal(counted.error, null);
  assert.equal(counted.count, 0);
  ok(await bob.client.from("todos").delete().eq("id", row.id));
  const forged = await bob.client.from("todos").insert({ title: "As Ann", user_id: ann.user.id });
  assert.equal(forged.error.code, "42501");
  assert.equal(ok(await ann.client.from("todos").select("title").eq("id", row.id).single()).title, "Private");
  assert.deepEqual(ok(await anon.from("todos").select()), []);
});

test("update, upsert, delete and return=minimal", async () => {
  const inserted = await ann.client.from("todos").insert({ title: "Draft", n: 30 });
  assert.equal(inserted.error, null);
  assert.equal(inserted.status, 201);
  assert.equal(inserted.data, null); // return=minimal: no body
  const [row] = ok(await ann.client.from("todos").select("id,title").eq("n", 30));
  const updated = ok(await ann.client.from("todos").update({ done: true }).eq("id", row.id).select("title,done"));
  assert.deepEqual(updated, [{ title: "Draft", done: true }]);
  const upserted = ok(
    await ann.client
      .from("todos")
      .upsert([{ id: row.id, title: "Final" }, { id: crypto.randomUUID(), title: "New", n: 31 }])
      .select("title,done,n")
      .order("n"),
  );
  assert.deepEqual(
    upserted.map((r) => r.title).sort(),
    ["Final", "New"],
  );
  assert.equal(ok(await ann.client.from("todos").select("done").eq("id", row.id).single()).done, true);
  const ignored = ok(await ann.client.from("todos").upsert({ id: row.id, title: "Ignored" }, { ignoreDuplicates: true }).select());
  assert.deepEqual(ignored, []);
  const removed = await ann.client.from("todos").delete().in("n", [30, 31]);
  assert.equal(removed.error, null);
  assert.equal(removed.status, 204);
  assert.deepEqual(ok(await ann.client.from("todos").select().in("n", [30, 31])), []);
  const unfiltered = await ann.client.from("todos").delete();
  assert.equal(unfiltered.error.code, "21000");
});

test("anon reads only what the rules let it, typed by the JSON Schema", async () => {
  ok(
    await server.from("posts").insert([
      { title: "Hello", stars: 5, published: true },
      { title: "Draft", stars: 9, published: false },
      { title: "10", stars: 10, published: true },
    ]),
    201,
  );
  const visible = ok(await anon.from("posts").select("title,stars").order("stars"));
  assert.deepEqual(visible, [{ title: "Hello", stars: 5 }, { title: "10", stars: 10 }]);
  assert.deepEqual(ok(await anon.from("posts").select("title").gt("stars", 6)), [{ title: "10" }]);
  assert.deepEqual(ok(await anon.from("posts").select("stars").eq("title", "10")), [{ stars: 10 }]);
  const typed = await anon.from("posts").select().eq("stars", "many");
  assert.equal(typed.error.code, "22P02");
  const write = await anon.from("posts").insert({ title: "Spam" });
  assert.equal(write.error.code, "42501");
  const unknown = await anon.from("nothing_here").select();
  assert.equal(unknown.error.code, "PGRST205");
});
