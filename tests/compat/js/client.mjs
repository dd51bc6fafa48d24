// The client an app builds: only the URL and the key are ours (see tests/compat/conftest.py).
import { createClient } from "@supabase/supabase-js";
import WebSocket from "ws";

export const url = process.env.SUPABASE_URL;
export const publishableKey = process.env.SUPABASE_PUBLISHABLE_KEY;
export const secretKey = process.env.SUPABASE_SECRET_KEY;

// A fresh client per actor: sessions in memory, no auto refresh timer keeping node alive.
export function client(key = publishableKey, options = {}) {
  return createClient(url, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
    realtime: { transport: WebSocket },
    ...options,
  });
}

let counter = 0;
export function email(prefix = "user") {
  counter += 1;
  return `${prefix}-${process.pid}-${Date.now()}-${counter}@example.com`;
}

export const password = "correct horse battery staple 1";
