'use strict';
// The Node.js twin of images/runtimes/jvm/App.java, with node's standard
// library only (no dependencies, so no `npm install`):
//
//   GET /                 200 {"service","instance","address","port"} (the
//                         fixture's Identity shape)
//   GET /actuator/health  200 {"status":"UP"}; 503 when the identity header
//                         names another instance
//
// At start it registers with Consul (retrying every second until Consul
// answers) with an HTTP check on its own address, port and health path.
// This module installs NO signal handler: server.js adds a SIGTERM handler
// that calls shutdown() (deregister, drain, close the server, exit 0);
// server-nohandler.js adds none, so SIGTERM does whatever the kernel does
// to node by default (kill it; nothing at all when node is PID 1).
//
// Environment (the same contract as the JVM app):
//   SERVICE_NAME               Consul service name (default "app")
//   PORT                       HTTP port (default 8080)
//   HEALTH_PATH                default /actuator/health
//   CONSUL_ADDR                host:port or URL of the Consul agent (default 127.0.0.1:8500)
//   POD_IP                     address to advertise (default: the first non-internal
//                              IPv4 address of os.networkInterfaces(), else 127.0.0.1)
//   INSTANCE_ID                default <service>-<hostname>
//   CHECK_INTERVAL             check interval (default 10s)
//   CHECK_TIMEOUT              check timeout (default 1s)
//   DEREGISTER_CRITICAL_AFTER  the check's DeregisterCriticalServiceAfter, if set
//   IDENTITY_CHECK             off (default) or header: the check sends
//                              X-Instance-Id: <id>, which the health path verifies
//   DRAIN                      sleep after deregistering, before the HTTP server closes (e.g. 2s)
//
// Lifecycle lines go to stdout, one per step, as
//   <RFC 3339 time> npm-app <event> key=value ...
// with events started, registering, registered, register-retry,
// identity-check-seen (the first health request naming this instance),
// sigterm, deregistered, deregister-failed, drained, stopped.

const http = require('http');
const os = require('os');
const path = require('path');

const INSTANCE_HEADER = 'X-Instance-Id';
// The Go fixture's header, accepted too so either kind of check works.
const FIXTURE_HEADER = 'X-Kubegrace-Instance';

function env(name, def) {
  const v = process.env[name];
  return v === undefined || v === '' ? def : v;
}

function log(event, ...kv) {
  process.stdout.write([new Date().toISOString(), 'npm-app', event, ...kv].join(' ') + '\n');
}

function oneLine(s) {
  s = String(s).replace(/\s+/g, ' ').trim();
  return s.length > 200 ? s.slice(0, 200) + '...' : s;
}

function parseDuration(name, v) {
  const m = /^(\d+)(ms|s|m)?$/.exec(v.trim());
  if (!m) {
    process.stderr.write(`npm-app: invalid ${name}="${v}": want e.g. 500ms, 2s or 1m\n`);
    process.exit(2);
  }
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 'm' ? n * 60000 : n * 1000;
}

function consulBase(addr) {
  const base = addr.includes('://') ? addr : 'http://' + addr;
  return base.replace(/\/+$/, '');
}

// advertiseAddress is POD_IP, else the first non-internal IPv4 address (what
// a container on a bridge or a Pod has), else 127.0.0.1.
function advertiseAddress() {
  const ip = env('POD_IP', '');
  if (ip) return ip;
  for (const addrs of Object.values(os.networkInterfaces())) {
    for (const a of addrs || []) {
      if (!a.internal && (a.family === 'IPv4' || a.family === 4)) return a.address;
    }
  }
  return '127.0.0.1';
}

function hostname() {
  return env('HOSTNAME', '') || os.hostname() || 'unknown';
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// call sends one request with no keep-alive (so no socket outlives it) and
// resolves to {status, body}; it rejects on a network error or the timeout.
function call(base, method, urlPath, body, timeoutMs) {
  return new Promise((resolve, reject) => {
    const u = new URL(base + urlPath);
    const data = body === undefined ? undefined : Buffer.from(body);
    const req = http.request(u, {
      method,
      agent: false,
      timeout: timeoutMs,
      headers: data ? { 'Content-Type': 'application/json', 'Content-Length': data.length } : { 'Content-Length': 0 },
    }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timeout after ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end(data);
  });
}

function start() {
  const cfg = {
    service: env('SERVICE_NAME', 'app'),
    port: Number(env('PORT', '8080')),
    healthPath: env('HEALTH_PATH', '/actuator/health'),
    consul: consulBase(env('CONSUL_ADDR', '127.0.0.1:8500')),
    address: advertiseAddress(),
    checkInterval: env('CHECK_INTERVAL', '10s'),
    checkTimeout: env('CHECK_TIMEOUT', '1s'),
    deregisterAfter: env('DEREGISTER_CRITICAL_AFTER', ''),
    identity: env('IDENTITY_CHECK', 'off'),
    drainMs: parseDuration('DRAIN', env('DRAIN', '0s')),
  };
  cfg.instance = env('INSTANCE_ID', `${cfg.service}-${hostname()}`);
  if (cfg.identity !== 'off' && cfg.identity !== 'header') {
    process.stderr.write(`npm-app: invalid IDENTITY_CHECK="${cfg.identity}": want off or header\n`);
    process.exit(2);
  }
  const entry = path.basename(require.main ? require.main.filename : process.argv[1] || '');
  let stopping = false;
  let identitySeen = false;

  const reply = (res, code, obj) => {
    const b = JSON.stringify(obj) + '\n';
    res.writeHead(code, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(b) });
    res.end(b);
  };
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    if (req.method !== 'GET') return reply(res, 405, { error: 'method not allowed' });
    if (p === '/') {
      return reply(res, 200, { service: cfg.service, instance: cfg.instance, address: cfg.address, port: cfg.port });
    }
    if (p === cfg.healthPath || p === cfg.healthPath + '/') {
      const want = req.headers[INSTANCE_HEADER.toLowerCase()] || req.headers[FIXTURE_HEADER.toLowerCase()] || '';
      if (want && want !== cfg.instance) {
        return reply(res, 503, { status: 'DOWN', reason: `check is for instance ${want}, this is ${cfg.instance}` });
      }
      if (want && !identitySeen) {
        identitySeen = true;
        log('identity-check-seen', `header=${INSTANCE_HEADER}`, `instance=${want}`);
      }
      return reply(res, 200, { status: 'UP' });
    }
    return reply(res, 404, { error: 'not found' });
  });

  const checkURL = () => {
    const host = cfg.address.includes(':') ? `[${cfg.address}]` : cfg.address;
    return `http://${host}:${cfg.port}${cfg.healthPath}`;
  };
  const registration = () => {
    const check = {
      CheckID: `service:${cfg.instance}`,
      Name: `HTTP ${cfg.healthPath}`,
      HTTP: checkURL(),
      Method: 'GET',
      Interval: cfg.checkInterval,
      Timeout: cfg.checkTimeout,
    };
    if (cfg.identity === 'header') check.Header = { [INSTANCE_HEADER]: [cfg.instance] };
    if (cfg.deregisterAfter) check.DeregisterCriticalServiceAfter = cfg.deregisterAfter;
    return JSON.stringify({
      ID: cfg.instance,
      Name: cfg.service,
      Address: cfg.address,
      Port: cfg.port,
      Meta: { instance: cfg.instance, identity_check: cfg.identity, runtime: 'node', entry },
      Check: check,
    });
  };

  // register retries every second until Consul answers 200, as the app must
  // start before (or without) the Consul Service answering.
  const register = async () => {
    const body = registration();
    log('registering', `consul=${cfg.consul}`, `check=${checkURL()}`, `interval=${cfg.checkInterval}`, `identity=${cfg.identity}`);
    for (let attempt = 1; !stopping; attempt++) {
      try {
        const r = await call(cfg.consul, 'PUT', '/v1/agent/service/register', body, 2000);
        if (r.status === 200) {
          log('registered', `instance=${cfg.instance}`, `attempts=${attempt}`);
          return;
        }
        log('register-retry', `attempt=${attempt}`, `status=${r.status}`, `body=${oneLine(r.body)}`);
      } catch (e) {
        log('register-retry', `attempt=${attempt}`, `error=${oneLine(e.code || e.message)}`);
      }
      await sleep(1000);
    }
  };

  let registered;
  server.listen(cfg.port, () => {
    log('started', `service=${cfg.service}`, `instance=${cfg.instance}`, `address=${cfg.address}`, `port=${cfg.port}`,
      `pid=${process.pid}`, `entry=${entry}`, `node=${process.version}`,
      `node_start_ms=${Math.round(process.uptime() * 1000)}`);
    registered = register();
  });

  let shuttingDown = false;
  // shutdown deregisters, drains, closes the server and exits 0. Only
  // server.js calls it (on SIGTERM).
  const shutdown = async (signal) => {
    if (shuttingDown) {
      log('signal-ignored', `signal=${signal}`, 'reason=already-stopping');
      return;
    }
    shuttingDown = true;
    stopping = true;
    log(signal.toLowerCase(), `instance=${cfg.instance}`, `pid=${process.pid}`);
    // A registration in flight may still land; wait for it briefly so the
    // deregistration comes after it.
    if (registered) await Promise.race([registered, sleep(3000)]);
    try {
      const r = await call(cfg.consul, 'PUT', `/v1/agent/service/deregister/${encodeURIComponent(cfg.instance)}`, undefined, 3000);
      if (r.status === 200) log('deregistered', `instance=${cfg.instance}`);
      else log('deregister-failed', `status=${r.status}`, `body=${oneLine(r.body)}`);
    } catch (e) {
      log('deregister-failed', `error=${oneLine(e.code || e.message)}`);
    }
    if (cfg.drainMs > 0) {
      await sleep(cfg.drainMs);
      log('drained', `drain=${cfg.drainMs}ms`);
    }
    const exit = () => {
      log('stopped', `instance=${cfg.instance}`);
      process.exit(0);
    };
    // close() waits for open connections; idle keep-alive ones are closed now
    // and a busy one gets 2 s.
    server.close(exit);
    if (server.closeIdleConnections) server.closeIdleConnections();
    setTimeout(exit, 2000).unref();
  };

  return { cfg, server, shutdown };
}

module.exports = { start };
