// supabase-js's functions.invoke against /functions/v1/<name> (both URL forms, see
// tests/compat/test_functions.py, which deploys hello-world, whoami, teapot and leak-token).
import { test } from "node:test";
import assert from "node:assert/strict";
import { FunctionsHttpError } from "@supabase/supabase-js";
import { client, publishableKey, secretKey, signedIn } from "./client.mjs";

const platform = process.env.PLATFORM_URL;

// An assertion message: what the platform answered when the call failed.
async function why(error) {
  if (!error) return "no error";
  const response = error.context;
  return response?.status ? `${response.status} ${await response.clone().text()}` : String(error);
}

async function addTodo(user, title) {
  const response = await fetch(`${platform}/client/v1/collections/todos/records/`, {
    method: "POST",
    headers: {
      apikey: publishableKey,
      authorization: `Bearer ${user.token}`,
      "content-type": "application/json",
    },
    body: JSON.stringify({ data: { title, done: false } }),
  });
  assert.equal(response.status, 201, await response.text());
}

test("anon invokes hello-world with a JSON body", async () => {
  const { data, error } = await client().functions.invoke("hello-world", {
    body: { name: "Ada" },
  });
  assert.equal(error, null, await why(error));
  assert.deepEqual(data, { message: "Hello Ada", user: null });
});

test("a signed-in end user's invocation names the user", async () => {
  const ann = await signedIn("ann");
  const { data, error } = await ann.client.functions.invoke("hello-world", {
    body: { name: "Ann" },
  });
  assert.equal(error, null, await why(error));
  assert.deepEqual(data, { message: "Hello Ann", user: ann.user.id });
});

test("the secret key invokes as the service role", async () => {
  const { data, error } = await client(secretKey).functions.invoke("whoami", { body: {} });
  assert.equal(error, null, await why(error));
  assert.equal(data.role, "service_role");
  assert.equal(data.end_user_id, null);
});

test("a function reads through the platform as its caller: RLS and the rules apply", async () => {
  const [ann, bob] = [await signedIn("ann"), await signedIn("bob")];
  const [annTitle, bobTitle] = [`ann ${Date.now()}`, `bob ${Date.now()}`];
  await addTodo(ann, annTitle);
  await addTodo(bob, bobTitle);

  const asAnn = await ann.client.functions.invoke("whoami", { body: {} });
  assert.equal(asAnn.error, null, await why(asAnn.error));
  assert.equal(asAnn.data.role, "authenticated");
  assert.equal(asAnn.data.end_user_id, ann.user.id);
  assert.deepEqual(asAnn.data.titles, [annTitle]);

  const asBob = await bob.client.functions.invoke("whoami", { body: {} });
  assert.deepEqual(asBob.data.titles, [bobTitle]);

  const asService = await client(secretKey).functions.invoke("whoami", { body: {} });
  assert.ok(asService.data.titles.includes(annTitle), asService.data);
  assert.ok(asService.data.titles.includes(bobTitle), asService.data);

  const asAnon = await client().functions.invoke("whoami", { body: {} });
  assert.equal(asAnon.data.role, "anon");
  assert.deepEqual(asAnon.data.titles, []);
});

test("the invocation's token works during the invocation and is refused after it", async () => {
  const ann = await signedIn("ann");
  const { data, error } = await ann.client.functions.invoke("leak-token", { body: {} });
  assert.equal(error, null, await why(error));
  assert.equal(data.during, 200);
  assert.match(data.authorization, /^Bearer fninv_/);
  const after = await fetch(`${platform}/client/v1/collections/todos/records/`, {
    headers: { authorization: data.authorization },
  });
  assert.equal(after.status, 401);
});

test("a function's error status reaches FunctionsHttpError", async () => {
  const { data, error } = await client().functions.invoke("teapot", { body: { name: "x" } });
  assert.equal(data, null);
  assert.ok(error instanceof FunctionsHttpError, String(error));
  assert.equal(error.context.status, 418, await why(error));
  assert.deepEqual(await error.context.json(), { error: "short and stout" });
});

test("an unknown function is a 404 FunctionsHttpError", async () => {
  const { error } = await client().functions.invoke("no-such-function", { body: {} });
  assert.ok(error instanceof FunctionsHttpError, String(error));
  assert.equal(error.context.status, 404);
});

test("any method, a query string and a sub-path reach the function", async () => {
  const { data, error } = await client().functions.invoke("whoami/sub/path?x=1", {
    method: "GET",
  });
  assert.equal(error, null, await why(error));
  assert.equal(data.method, "GET");
  assert.equal(data.path, "/whoami/sub/path?x=1");
});
