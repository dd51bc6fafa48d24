// Seeds Parse with the platform's data: NUSERS users (bench0..), PER items {title, n, owner}
// each, ACL owner-only, through Parse's own REST API (sign-up, /batch of 50). The class "Item"
// is created with the master key (client class creation is off). Writes OUT/users.txt
// ("<objectId> <sessionToken> <username>") and OUT/pairs.txt ("<sessionToken> <itemId>").
const fs = require('fs');

const BASE = `http://127.0.0.1:${process.env.PARSE_PORT}/parse`;
const HEADERS = { 'X-Parse-Application-Id': 'bench', 'Content-Type': 'application/json' };
const MASTER = { 'X-Parse-Master-Key': process.env.PARSE_MASTER_KEY };
const NUSERS = +process.env.NUSERS || 50;
const PER = +process.env.PER || 1000;
const OUT = process.env.OUT || '.';

async function call(method, path, body, extra = {}) {
  const response = await fetch(BASE + path, {
    method,
    headers: { ...HEADERS, ...extra },
    body: body ? JSON.stringify(body) : undefined,
  });
  const answer = await response.json();
  if (!response.ok) {
    throw new Error(`${method} ${path} ${response.status} ${JSON.stringify(answer)}`);
  }
  return answer;
}

async function main() {
  const started = Date.now();
  const fields = {
    title: { type: 'String' },
    n: { type: 'Number' },
    owner: { type: 'Pointer', targetClass: '_User' },
  };
  try {
    await call('POST', '/schemas/Item', { className: 'Item', fields }, MASTER);
  } catch (error) {
    if (!/already exists/.test(error.message)) throw error;
  }
  const users = [];
  const pairs = [];
  for (let u = 0; u < NUSERS; u++) {
    const username = `bench${u}`;
    const credentials = { username, password: `pw-${username}-123` };
    let session;
    try {
      session = await call('POST', '/users', credentials);
    } catch (error) {
      session = await call('POST', '/login', credentials);
    }
    const auth = { 'X-Parse-Session-Token': session.sessionToken };
    users.push(`${session.objectId} ${session.sessionToken} ${username}`);
    const have = await call('GET', '/classes/Item?limit=0&count=1', null, auth);
    if (have.count === 0) {
      for (let first = 0; first < PER; first += 50) {
        const requests = [];
        for (let k = first; k < Math.min(PER, first + 50); k++) {
          requests.push({
            method: 'POST',
            path: '/parse/classes/Item',
            body: {
              title: `item ${k} of ${username}`,
              n: k,
              owner: { __type: 'Pointer', className: '_User', objectId: session.objectId },
              ACL: { [session.objectId]: { read: true, write: true } },
            },
          });
        }
        const results = await call('POST', '/batch', { requests }, auth);
        for (const result of results) {
          if (!result.success) throw new Error(JSON.stringify(result));
        }
      }
    }
    for (let skip = 0; ; skip += 1000) {
      const page = await call(
        'GET', `/classes/Item?keys=objectId&limit=1000&skip=${skip}&order=createdAt`, null, auth,
      );
      for (const item of page.results) pairs.push(`${session.sessionToken} ${item.objectId}`);
      if (page.results.length < 1000) break;
    }
  }
  fs.mkdirSync(OUT, { recursive: true });
  fs.writeFileSync(`${OUT}/users.txt`, users.join('\n') + '\n');
  fs.writeFileSync(`${OUT}/pairs.txt`, pairs.join('\n') + '\n');
  const seconds = (Date.now() - started) / 1000;
  console.log(`parse: seeded ${NUSERS} users, ${pairs.length} items in ${seconds} s`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
