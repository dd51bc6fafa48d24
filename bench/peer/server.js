// Parse Server 9.10, the peer of bench/peer/run.py. WORKERS=1: one process; WORKERS=2: a node
// cluster whose workers start one after another (parallel first starts race on schema
// creation). CACHE=redis (default): RedisCacheAdapter on PARSE_REDIS_URL; CACHE=memory: Parse's
// in-process LRU. PARSE_DATABASE_URI, PARSE_MASTER_KEY (made per run) and PARSE_PORT are
// required; PARSE_SERVER_LOGS_FOLDER (Parse's own variable, read when the module loads) keeps its
// log files out of this directory. Also serves /live (express only) as the framework's floor.
const cluster = require('cluster');

function required(name) {
  const value = process.env[name];
  if (!value) {
    console.error(`${name} must be set`);
    process.exit(2);
  }
  return value;
}

const WORKERS = +process.env.WORKERS || 1;
const PORT = +required('PARSE_PORT');
const CACHE = process.env.CACHE || 'redis';

async function serve() {
  const express = require('express');
  const { ParseServer, RedisCacheAdapter } = require('parse-server');
  const options = {
    databaseURI: required('PARSE_DATABASE_URI'),
    appId: 'bench',
    masterKey: required('PARSE_MASTER_KEY'),
    serverURL: `http://127.0.0.1:${PORT}/parse`,
    allowClientClassCreation: false,
    logLevel: 'error',
    verbose: false,
    masterKeyIps: ['127.0.0.1', '::1', '::ffff:127.0.0.1'],
  };
  if (CACHE === 'redis') {
    options.cacheAdapter = new RedisCacheAdapter({ url: required('PARSE_REDIS_URL') });
  }
  const api = new ParseServer(options);
  await api.start();
  const app = express();
  app.get('/live', (req, res) => res.json({ status: 'ok' }));
  app.use('/parse', api.app);
  app.listen(PORT, '127.0.0.1', () => {
    console.log(`parse-server pid=${process.pid} on 127.0.0.1:${PORT} cache=${CACHE}`);
    if (process.send) process.send('ready');
  });
}

if (WORKERS > 1 && cluster.isPrimary) {
  let started = 0;
  const next = () => {
    if (started++ >= WORKERS) return;
    const worker = cluster.fork();
    worker.on('message', (message) => { if (message === 'ready') next(); });
  };
  next();
  cluster.on('exit', (worker, code) => {
    console.error(`parse-server worker ${worker.process.pid} exited with ${code}`);
  });
} else {
  serve().catch((error) => {
    console.error('parse-server did not start', error);
    process.exit(1);
  });
}
