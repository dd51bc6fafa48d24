// supabase-js's own auth (auth-js) against /auth/v1: sessions, events, errors, admin.
// Run by tests/compat/test_auth.py for both URL forms; the demo project allows anonymous
// sign-in there.
import assert from "node:assert/strict";
import { test } from "node:test";
import { AuthApiError, AuthWeakPasswordError } from "@supabase/supabase-js";
import { client, email, password, publishableKey, secretKey, url } from "./client.mjs";

// A client with the real auth and its state-change events recorded.
function recorded() {
  const supabase = client();
  const events = [];
  supabase.auth.onAuthStateChange((event) => events.push(event));
  return { supabase, events };
}

// GET /auth/v1/user with a given access token, outside supabase-js.
async function userStatus(token) {
  const response = await fetch(`${url}/auth/v1/user`, {
    headers: { apikey: publishableKey, authorization: `Bearer ${token}` },
  });
  return { status: response.status, body: await response.json() };
}

async function signedUp() {
  const address = email("auth");
  const { supabase, events } = recorded();
  const { data, error } = await supabase.auth.signUp({ email: address, password });
  assert.equal(error, null);
  return { address, supabase, events, session: data.session };
}

test("sign up, sign in, get the user, refresh, update, sign out: with their events", async () => {
  const address = email("ada");
  const { supabase, events } = recorded();
  const up = await supabase.auth.signUp({
    email: address,
    password,
    options: { data: { name: "Ada" } },
  });
  assert.equal(up.error, null);
  assert.ok(up.data.session.access_token);
  const user = up.data.user;
  assert.equal(user.email, address);
  assert.equal(user.aud, "authenticated");
  assert.deepEqual(user.user_metadata, { name: "Ada" });
  assert.equal(user.app_metadata.provider, "email");
  assert.equal(user.identities.length, 1);
  assert.equal(user.is_anonymous, false);

  const signIn = await supabase.auth.signInWithPassword({ email: address, password });
  assert.equal(signIn.error, null);
  assert.equal(signIn.data.user.id, user.id);
  const first = signIn.data.session;
  assert.equal(first.token_type, "bearer");
  assert.ok(first.expires_at > Date.now() / 1000);

  const got = await supabase.auth.getUser();
  assert.equal(got.error, null);
  assert.equal(got.data.user.id, user.id);

  const refreshed = await supabase.auth.refreshSession();
  assert.equal(refreshed.error, null);
  assert.notEqual(refreshed.data.session.refresh_token, first.refresh_token);
  assert.equal(refreshed.data.user.id, user.id);

  const updated = await supabase.auth.updateUser({ data: { theme: "dark" } });
  assert.equal(updated.error, null);
  assert.deepEqual(updated.data.user.user_metadata, { name: "Ada", theme: "dark" });
  const { data: current } = await supabase.auth.getSession();
  assert.deepEqual(current.session.user.user_metadata, { name: "Ada", theme: "dark" });

  const token = current.session.access_token;
  assert.equal((await userStatus(token)).status, 200);
  const out = await supabase.auth.signOut({ scope: "local" });
  assert.equal(out.error, null);
  const refused = await userStatus(token);
  assert.equal(refused.status, 403);
  assert.equal(refused.body.error_code, "session_not_found");
  assert.equal((await supabase.auth.getSession()).data.session, null);

  assert.deepEqual(
    events.filter((event) => event !== "INITIAL_SESSION"),
    ["SIGNED_IN", "SIGNED_IN", "TOKEN_REFRESHED", "USER_UPDATED", "SIGNED_OUT"],
  );
});

test("a stored session past its expiry is refreshed by auth-js on its own", async () => {
  const { session } = await signedUp();
  const key = "auth-test";
  const expired = { ...session, expires_at: Math.floor(Date.now() / 1000) - 1 };
  const stored = new Map([[key, JSON.stringify(expired)]]);
  const storage = {
    getItem: (name) => stored.get(name) ?? null,
    setItem: (name, value) => stored.set(name, value),
    removeItem: (name) => stored.delete(name),
  };
  const supabase = client(publishableKey, {
    auth: {
      persistSession: true,
      autoRefreshToken: true,
      detectSessionInUrl: false,
      storage,
      storageKey: key,
    },
  });
  const events = [];
  supabase.auth.onAuthStateChange((event) => events.push(event));
  const { data, error } = await supabase.auth.getSession();
  await supabase.auth.stopAutoRefresh();
  assert.equal(error, null);
  assert.notEqual(data.session.refresh_token, session.refresh_token);
  assert.ok(data.session.expires_at > Date.now() / 1000);
  assert.equal(JSON.parse(stored.get(key)).refresh_token, data.session.refresh_token);
  assert.ok(events.includes("TOKEN_REFRESHED"), events.join());
  assert.equal((await userStatus(data.session.access_token)).status, 200);
});

test("global sign-out ends every session of the user; others keeps the caller's", async () => {
  const { address, supabase: first } = await signedUp();
  const second = recorded();
  const third = recorded();
  await second.supabase.auth.signInWithPassword({ email: address, password });
  await third.supabase.auth.signInWithPassword({ email: address, password });

  const others = await third.supabase.auth.signOut({ scope: "others" });
  assert.equal(others.error, null);
  assert.equal((await third.supabase.auth.getUser()).error, null);
  // The other devices' tokens are refused: auth-js sees the session gone and signs out.
  const gone = await second.supabase.auth.getUser();
  assert.ok(gone.error);
  assert.equal(gone.data.user, null);
  assert.ok(second.events.includes("SIGNED_OUT"));
  assert.ok((await first.auth.getUser()).error);

  const thirdToken = (await third.supabase.auth.getSession()).data.session.access_token;
  const global = await third.supabase.auth.signOut();
  assert.equal(global.error, null);
  assert.equal((await userStatus(thirdToken)).status, 403);
  assert.ok(third.events.includes("SIGNED_OUT"));
});

test("anonymous sign-in, then the account made permanent", async () => {
  const { supabase, events } = recorded();
  const { data, error } = await supabase.auth.signInAnonymously({ options: { data: { n: 1 } } });
  assert.equal(error, null);
  assert.equal(data.user.is_anonymous, true);
  assert.deepEqual(data.user.user_metadata, { n: 1 });
  assert.ok(data.session.access_token);
  assert.equal((await supabase.auth.getUser()).data.user.id, data.user.id);

  const address = email("anon");
  const upgraded = await supabase.auth.updateUser({ email: address, password });
  assert.equal(upgraded.error, null);
  assert.equal(upgraded.data.user.is_anonymous, false);
  assert.equal(upgraded.data.user.email, address);
  assert.deepEqual(
    events.filter((event) => event !== "INITIAL_SESSION"),
    ["SIGNED_IN", "USER_UPDATED"],
  );
});

test("refusals are AuthApiErrors with GoTrue's codes", async () => {
  const { address } = await signedUp();
  const fresh = client();

  const wrong = await fresh.auth.signInWithPassword({ email: address, password: "nope nope 1" });
  assert.ok(wrong.error instanceof AuthApiError);
  assert.equal(wrong.error.code, "invalid_credentials");
  assert.equal(wrong.error.status, 400);
  assert.equal(wrong.data.session, null);

  const duplicate = await fresh.auth.signUp({ email: address, password });
  assert.ok(duplicate.error instanceof AuthApiError);
  assert.equal(duplicate.error.code, "user_already_exists");

  const weak = await fresh.auth.signUp({ email: email("weak"), password: "short" });
  assert.ok(weak.error instanceof AuthWeakPasswordError);
  assert.equal(weak.error.code, "weak_password");
  assert.ok(weak.error.reasons.length > 0);

  const badRefresh = await fresh.auth.refreshSession({ refresh_token: "not-a-token" });
  assert.ok(badRefresh.error instanceof AuthApiError);
  assert.equal(badRefresh.error.code, "refresh_token_not_found");
});

test("password recovery answers the same for any address", async () => {
  const { address } = await signedUp();
  const fresh = client();
  const known = await fresh.auth.resetPasswordForEmail(address);
  const unknown = await fresh.auth.resetPasswordForEmail(email("nobody"));
  assert.equal(known.error, null);
  assert.equal(unknown.error, null);
  assert.deepEqual(known.data, unknown.data);
});

test("auth.admin with the secret key, and only with it", async () => {
  const admin = client(secretKey).auth.admin;
  const address = email("managed");
  const created = await admin.createUser({
    email: address,
    password,
    email_confirm: true,
    user_metadata: { plan: "pro" },
  });
  assert.equal(created.error, null);
  const id = created.data.user.id;
  assert.ok(created.data.user.email_confirmed_at);

  const listed = await admin.listUsers({ page: 1, perPage: 50 });
  assert.equal(listed.error, null);
  assert.ok(listed.data.users.some((user) => user.id === id));

  const updated = await admin.updateUserById(id, { app_metadata: { roles: ["editor"] } });
  assert.equal(updated.error, null);
  assert.deepEqual(updated.data.user.app_metadata.roles, ["editor"]);
  assert.equal((await admin.getUserById(id)).data.user.email, address);

  // The new user signs in; its token carries the roles.
  const signIn = await client().auth.signInWithPassword({ email: address, password });
  assert.equal(signIn.error, null);
  assert.deepEqual(signIn.data.user.app_metadata.roles, ["editor"]);

  const deleted = await admin.deleteUser(id);
  assert.equal(deleted.error, null);
  assert.ok((await admin.getUserById(id)).error);

  const notAdmin = await client().auth.admin.listUsers();
  assert.ok(notAdmin.error instanceof AuthApiError);
  assert.equal(notAdmin.error.code, "not_admin");
});
