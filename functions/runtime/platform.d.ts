// The globals the bootstrap gives a function (bootstrap.js), for `deno check` at deploy.
declare var platform: {
  /** The platform's base URL inside the sandbox: http://platform.internal */
  readonly url: string;
  /** The platform's client API as the invocation's caller (its token is attached). */
  fetch(path: string, init?: RequestInit): Promise<Response>;
};
