// Supabase Storage through the real storage-js (tests/compat/test_storage.py creates the
// buckets: "docs", private, each end user owns their files; "avatars", public, the same
// owner rules for writes; nothing opens either to anon).
import assert from "node:assert/strict";
import { test } from "node:test";

import { client, publishableKey, secretKey, signedIn, url } from "./client.mjs";

const refForm = /\/p\/[a-z]{20}$/.test(url);
const alice = await signedIn("alice");
const bob = await signedIn("bob");
const anon = client();
const secret = client(secretKey);
const docs = alice.client.storage.from("docs");
const folder = `${alice.user.id}/notes`;

async function text(blob) {
  return Buffer.from(await blob.arrayBuffer()).toString();
}

function ok({ data, error }) {
  assert.equal(error, null, error && `${error.statusCode}: ${error.message}`);
  return data;
}

function refused({ data, error }, statusCode) {
  assert.ok(error, `expected ${statusCode}, got ${JSON.stringify(data)}`);
  assert.equal(error.statusCode, statusCode, error.message);
  return error;
}

test("upload a Buffer (raw body) and a Blob (multipart), download them", async () => {
  const raw = ok(await docs.upload(`${folder}/a.txt`, Buffer.from("alpha"), { contentType: "text/plain" }));
  assert.equal(raw.path, `${folder}/a.txt`);
  assert.equal(raw.fullPath, `docs/${folder}/a.txt`);
  assert.ok(raw.id);
  const blob = new Blob(["bravo"], { type: "text/plain" });
  ok(await docs.upload(`${folder}/b.txt`, blob));
  ok(await docs.upload(`${folder}/sub/c.txt`, Buffer.from("charlie")));
  assert.equal(await text(ok(await docs.download(`${folder}/a.txt`))), "alpha");
  assert.equal(await text(ok(await docs.download(`${folder}/b.txt`))), "bravo");
});

test("an upload over an existing file needs upsert", async () => {
  ok(await docs.upload(`${folder}/d.txt`, Buffer.from("one")));
  refused(await docs.upload(`${folder}/d.txt`, Buffer.from("two")), "409");
  ok(await docs.upload(`${folder}/d.txt`, new Blob(["three"]), { upsert: true }));
  assert.equal(await text(ok(await docs.download(`${folder}/d.txt`))), "three");
  ok(await docs.update(`${folder}/d.txt`, Buffer.from("four")));
  assert.equal(await text(ok(await docs.download(`${folder}/d.txt`))), "four");
});

test("list a folder: its files and its sub-folders, with search", async () => {
  ok(await docs.upload(`${folder}/list/x.txt`, Buffer.from("x")));
  ok(await docs.upload(`${folder}/list/y.txt`, Buffer.from("y")));
  ok(await docs.upload(`${folder}/list/deeper/z.txt`, Buffer.from("z")));
  const entries = ok(await docs.list(`${folder}/list`));
  assert.deepEqual(entries.map((e) => e.name), ["deeper", "x.txt", "y.txt"]);
  assert.equal(entries[0].id, null);
  assert.equal(entries[1].metadata.size, 1);
  assert.equal(entries[1].metadata.mimetype, "text/plain");
  const found = ok(await docs.list(`${folder}/list`, { search: "y" }));
  assert.deepEqual(found.map((e) => e.name), ["y.txt"]);
  const page = ok(await docs.list(`${folder}/list`, { limit: 1, offset: 1 }));
  assert.deepEqual(page.map((e) => e.name), ["x.txt"]);
});

test("move and copy", async () => {
  ok(await docs.upload(`${folder}/m/src.txt`, Buffer.from("moving")));
  ok(await docs.move(`${folder}/m/src.txt`, `${folder}/m/dst.txt`));
  refused(await docs.download(`${folder}/m/src.txt`), "404");
  assert.equal(await text(ok(await docs.download(`${folder}/m/dst.txt`))), "moving");
  const copied = ok(await docs.copy(`${folder}/m/dst.txt`, `${folder}/m/copy.txt`));
  assert.equal(copied.path, `docs/${folder}/m/copy.txt`);
  assert.equal(await text(ok(await docs.download(`${folder}/m/copy.txt`))), "moving");
  refused(await docs.copy(`${folder}/m/dst.txt`, `${folder}/m/copy.txt`), "409");
});

test("info and exists", async () => {
  ok(await docs.upload(`${folder}/i.txt`, Buffer.from("info!")));
  const info = ok(await docs.info(`${folder}/i.txt`));
  assert.equal(info.name, `${folder}/i.txt`);
  assert.equal(info.size, 5);
  assert.equal(info.contentType, "text/plain");
  assert.equal(info.bucketId, "docs");
  assert.equal(ok(await docs.exists(`${folder}/i.txt`)), true);
  assert.equal((await docs.exists(`${folder}/nothing.txt`)).data, false);
});

test("a signed URL opens without any key, a tampered one does not", async () => {
  ok(await docs.upload(`${folder}/signed file.txt`, Buffer.from("signed")));
  const { signedUrl } = ok(await docs.createSignedUrl(`${folder}/signed file.txt`, 60));
  const response = await fetch(signedUrl);
  assert.equal(response.status, 200);
  assert.equal(await response.text(), "signed");
  assert.match(response.headers.get("etag"), /^"[0-9a-f]{64}"$/);
  const { signedUrl: attached } = ok(
    await docs.createSignedUrl(`${folder}/signed file.txt`, 60, { download: "saved.txt" }),
  );
  const saved = await fetch(attached);
  assert.equal(saved.status, 200);
  assert.match(saved.headers.get("content-disposition"), /^attachment; filename="saved.txt"/);
  const tampered = await fetch(signedUrl.replace(/token=./, "token=x"));
  assert.equal(tampered.status, 400);
  assert.equal((await tampered.json()).statusCode, "400");
  const many = ok(await docs.createSignedUrls([`${folder}/signed file.txt`, `${folder}/none`], 60));
  assert.equal(many[0].error, null);
  assert.equal(await (await fetch(many[0].signedUrl)).text(), "signed");
  assert.equal(many[1].signedUrl, null);
});

test("upload to a signed upload URL", async () => {
  const path = `${folder}/uploaded.txt`;
  const { token } = ok(await docs.createSignedUploadUrl(path));
  ok(await anon.storage.from("docs").uploadToSignedUrl(path, token, Buffer.from("via url")));
  assert.equal(await text(ok(await docs.download(path))), "via url");
  // The file is the signer's: the other end user does not see it.
  refused(await bob.client.storage.from("docs").download(path), "404");
  // The URL itself, fetched without a key.
  const other = ok(await docs.createSignedUploadUrl(`${folder}/raw.txt`));
  const put = await fetch(other.signedUrl, { method: "PUT", body: "raw put", headers: { "content-type": "text/plain" } });
  assert.equal(put.status, 200, await put.clone().text());
  assert.equal(await text(ok(await docs.download(`${folder}/raw.txt`))), "raw put");
});

test("a public bucket's public URL", async () => {
  const avatars = alice.client.storage.from("avatars");
  ok(await avatars.upload(`${alice.user.id}.png`, Buffer.from("\x89PNG fake"), { contentType: "image/png" }));
  const { publicUrl } = avatars.getPublicUrl(`${alice.user.id}.png`).data;
  const keyless = await fetch(publicUrl);
  if (refForm) {
    assert.equal(keyless.status, 200);
    assert.equal(await keyless.text(), "\x89PNG fake");
    assert.match(keyless.headers.get("cache-control"), /^public/);
  } else {
    // The base URL names no project: the key has to.
    assert.equal(keyless.status, 404);
    assert.match((await keyless.json()).message, /\/p\/<ref>/);
  }
  const keyed = await fetch(publicUrl, { headers: { apikey: publishableKey } });
  assert.equal(keyed.status, 200);
  // A private bucket has no public URL.
  ok(await docs.upload(`${folder}/private.txt`, Buffer.from("private")));
  const closed = await fetch(docs.getPublicUrl(`${folder}/private.txt`).data.publicUrl, {
    headers: { apikey: publishableKey },
  });
  assert.equal(closed.status, 404);
});

test("remove", async () => {
  ok(await docs.upload(`${folder}/r1.txt`, Buffer.from("1")));
  ok(await docs.upload(`${folder}/r2.txt`, Buffer.from("2")));
  const removed = ok(await docs.remove([`${folder}/r1.txt`, `${folder}/r2.txt`, `${folder}/none`]));
  assert.deepEqual(removed.map((o) => o.name).sort(), [`${folder}/r1.txt`, `${folder}/r2.txt`]);
  refused(await docs.download(`${folder}/r1.txt`), "404");
});

test("a private bucket is refused to anon", async () => {
  ok(await docs.upload(`${folder}/secret.txt`, Buffer.from("secret")));
  const files = anon.storage.from("docs");
  refused(await files.list(folder), "403");
  refused(await files.download(`${folder}/secret.txt`), "404");
  refused(await files.upload("anon.txt", Buffer.from("x")), "403");
  refused(await files.createSignedUrl(`${folder}/secret.txt`, 60), "404");
  assert.deepEqual(ok(await files.remove([`${folder}/secret.txt`])), []);
  assert.equal(await text(ok(await docs.download(`${folder}/secret.txt`))), "secret");
});

test("one end user's owner-only files are invisible to another", async () => {
  ok(await docs.upload(`${folder}/mine.txt`, Buffer.from("alice's")));
  const theirs = bob.client.storage.from("docs");
  assert.deepEqual(ok(await theirs.list(folder)), []);
  refused(await theirs.download(`${folder}/mine.txt`), "404");
  refused(await theirs.info(`${folder}/mine.txt`), "404");
  assert.deepEqual(ok(await theirs.remove([`${folder}/mine.txt`])), []);
  refused(await theirs.move(`${folder}/mine.txt`, `${bob.user.id}/stolen.txt`), "404");
  ok(await theirs.upload(`${bob.user.id}/own.txt`, Buffer.from("bob's")));
  assert.deepEqual(ok(await theirs.list(bob.user.id)).map((e) => e.name), ["own.txt"]);
  assert.equal(await text(ok(await docs.download(`${folder}/mine.txt`))), "alice's");
});

test("buckets: the secret key manages them, others see what their rules show", async () => {
  const name = `tmp-${process.pid}`;
  ok(await secret.storage.createBucket(name, { public: false, fileSizeLimit: "1MB" }));
  refused(await secret.storage.createBucket(name), "409");
  const bucket = ok(await secret.storage.getBucket(name));
  assert.equal(bucket.id, name);
  assert.equal(bucket.file_size_limit, 1024 * 1024);
  ok(await secret.storage.updateBucket(name, { public: true, allowedMimeTypes: ["text/*"] }));
  assert.equal(ok(await secret.storage.getBucket(name)).public, true);
  const files = secret.storage.from(name);
  ok(await files.upload("t.txt", Buffer.from("t")));
  refused(await files.upload("t.png", Buffer.from("t"), { contentType: "image/png" }), "400");
  refused(await secret.storage.deleteBucket(name), "409");
  ok(await secret.storage.emptyBucket(name));
  assert.deepEqual(ok(await files.list()), []);
  refused(await anon.storage.createBucket("nope"), "403");
  refused(await alice.client.storage.deleteBucket(name), "403");
  const anonSees = ok(await anon.storage.listBuckets()).map((b) => b.name);
  assert.ok(anonSees.includes("avatars") && anonSees.includes(name));
  assert.ok(!anonSees.includes("docs"));
  refused(await anon.storage.getBucket("docs"), "404");
  const aliceSees = ok(await alice.client.storage.listBuckets()).map((b) => b.name);
  assert.ok(aliceSees.includes("docs"));
  ok(await secret.storage.deleteBucket(name));
  refused(await secret.storage.getBucket(name), "404");
});
