#!/usr/bin/env node
'use strict';
/*
 * Sample Discord bot for nines (discord.js 14), the twin of services/bot/bot.py.
 *
 * What it shows a supervisor (see README.md next to services/bot/bot.py; same variables):
 *   - GET/HEAD /health on HEALTH_HOST:HEALTH_PORT: 200 once the gateway session is READY (or
 *     resumed), 503 while logging in or reconnecting, 401 after an authentication failure
 *     (REST 401 -> TokenInvalid, gateway close 4004 at login or mid-session). JSON body says why.
 *   - sd_notify over NOTIFY_SOCKET: READY=1 once ready, WATCHDOG=1 every WATCHDOG_USEC/2 while the
 *     bot is ready (or within BOT_CONNECT_GRACE of losing/awaiting its session), STATUS=...,
 *     STOPPING=1. Node has no unix datagram sockets, so one long-lived helper child
 *     (notify.py next to this file, run by /usr/bin/python3 or $NOTIFY_PYTHON) sends one
 *     datagram per line we write to its stdin; it exits when our end of the pipe closes. It runs
 *     in our session, so nines accepts its messages as the service's own.
 *   - exit codes: 77 authentication failed, 78 configuration error (no DISCORD_TOKEN, bad
 *     variable, gateway close 4010-4014), 0 after SIGTERM/SIGINT, 1 anything else.
 *
 * Why the bot itself must watch for 4004: discord.js 14, when the token is reset while the bot
 * runs, prints nothing at all. The gateway closes with 4004, discord.js emits `shardDisconnect`
 * and stops; the process then idles (or exits 0 when nothing else holds the event loop) while
 * client.isReady() still returns true (shared/reference/discord.md 4.3, case A7). This bot turns
 * the event into /health 401 and exit 77.
 *
 * The token comes from DISCORD_TOKEN and nowhere else; it is never logged (only the bot ID and
 * a 6-hex-digit SHA-256 prefix, the fingerprint nines shows).
 *
 * Pointing it at another Discord (a local fake) uses discord.js's own options, no patching:
 *   DISCORD_API_BASE  REST base as for bot.py, e.g. http://127.0.0.1:5000/api/v10 (a trailing
 *                     /vN becomes the `rest.version` option, the rest the `rest.api` option; a base
 *                     without /vN gets v10). discord.js then takes the gateway URL from
 *                     GET {api}/gateway/bot, so the fake's own URL is used.
 *   DISCORD_GATEWAY   optional override of that URL. discord.js has no URL option for the gateway;
 *                     the `ws.buildStrategy` option is used to answer fetchGatewayInformation()
 *                     with this URL (session limits etc. still come from /gateway/bot).
 */

const crypto = require('node:crypto');
const http = require('node:http');
const path = require('node:path');
const { spawn } = require('node:child_process');

const EX_OK = 0;
const EX_FAIL = 1;
const EX_NOPERM = 77;
const EX_CONFIG = 78;
const CONFIG_CLOSE_CODES = new Set([4010, 4011, 4012, 4013, 4014]);

class ConfigError extends Error {}

// ------------------------------------------------------------------------------- logging

const LEVELS = { debug: 10, info: 20, warning: 30, error: 40, critical: 50 };
let logLevel = LEVELS.info;

function log(level, msg) {
  if (LEVELS[level] < logLevel) return;
  const ts = new Date().toISOString().replace('T', ' ').slice(0, 19);
  process.stderr.write(`[${ts}] [${level.toUpperCase().padEnd(8)}] bot: ${msg}\n`);
}

// ------------------------------------------------------------------------------- configuration

function envFloat(name, dflt, allowNever = false) {
  const raw = (process.env[name] || '').trim();
  if (!raw) return dflt;
  const v = Number(raw);
  if (!Number.isFinite(v)) throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a number`);
  if (v < 0 && !(allowNever && v === -1)) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} must be >= 0${allowNever ? ' or -1' : ''}`);
  }
  return v;
}

function envPort(name, dflt) {
  const raw = (process.env[name] || '').trim() || String(dflt);
  if (!/^\d+$/.test(raw) || Number(raw) > 65535) {
    throw new ConfigError(`${name}=${JSON.stringify(raw)} is not a TCP port (0-65535)`);
  }
  return Number(raw);
}

/** `BOTID:abcdef` (segment A decoded, SHA-256 prefix) or `abcdef`: safe to log. */
function tokenFingerprint(token) {
  const h = crypto.createHash('sha256').update(token, 'utf8').digest('hex').slice(0, 6);
  const seg = token.split('.', 1)[0];
  const raw = Buffer.from(seg, 'base64').toString('latin1');
  return /^[1-9]\d{0,19}$/.test(raw) && /^[A-Za-z0-9_-]+$/.test(seg) ? `${raw}:${h}` : h;
}

/** {rest, ws} options for the Client from DISCORD_API_BASE / DISCORD_GATEWAY (see the header). */
function endpointOptions() {
  const api = (process.env.DISCORD_API_BASE || '').trim().replace(/\/+$/, '');
  const gw = (process.env.DISCORD_GATEWAY || '').trim();
  if (gw && !api) throw new ConfigError('DISCORD_GATEWAY is set but DISCORD_API_BASE is not');
  if (!api) return {};
  if (!/^https?:\/\//.test(api)) {
    throw new ConfigError(`DISCORD_API_BASE=${JSON.stringify(api)} must be an http(s) URL`);
  }
  const m = /^(.*)\/v(\d+)$/.exec(api);
  const rest = m ? { api: m[1], version: m[2] } : { api, version: '10' };
  const opts = { rest };
  if (gw) {
    if (!/^wss?:\/\//.test(gw)) {
      throw new ConfigError(`DISCORD_GATEWAY=${JSON.stringify(gw)} must be a ws:// or wss:// URL`);
    }
    const { SimpleShardingStrategy } = require('@discordjs/ws');
    const url = gw.replace(/\/+$/, '');
    opts.ws = {
      buildStrategy(manager) {
        const fetchInfo = manager.fetchGatewayInformation.bind(manager);
        manager.fetchGatewayInformation = async (force) => ({ ...(await fetchInfo(force)), url });
        return new SimpleShardingStrategy(manager);
      },
    };
  }
  log('info', `using Discord API ${rest.api}/v${rest.version}, gateway ${gw || 'from GET /gateway/bot'}`);
  return opts;
}

// ------------------------------------------------------------------------------- sd_notify

/** sd_notify(3) through the helper child: one line written = one datagram sent. */
class Notifier {
  constructor() {
    const sock = process.env.NOTIFY_SOCKET || '';
    this.child = null;
    this.watchdogMs = null;
    const usec = (process.env.WATCHDOG_USEC || '').trim();
    const wpid = (process.env.WATCHDOG_PID || '').trim();
    if (/^\d+$/.test(usec) && Number(usec) > 0 && (!wpid || wpid === String(process.pid))) {
      this.watchdogMs = Math.max(1, Math.floor(Number(usec) / 1000 / 2)); // half, as sd_watchdog_enabled(3)
    }
    if (!sock.startsWith('/') && !sock.startsWith('@')) return;
    const helper = path.join(__dirname, 'notify.py');
    const python = process.env.NOTIFY_PYTHON || '/usr/bin/python3';
    // The helper inherits NOTIFY_SOCKET; it is in our session, which nines accepts as ours.
    this.child = spawn(python, [helper], { stdio: ['pipe', 'ignore', 'inherit'] });
    this.child.on('error', (err) => {
      log('warning', `sd_notify helper ${python} ${helper} failed: ${err.message}`);
      this.child = null;
    });
    this.child.on('exit', (code, sig) => {
      if (this.child) log('warning', `sd_notify helper exited (${sig || code}): no more notifications`);
      this.child = null;
    });
    this.child.stdin.on('error', () => {}); // EPIPE after the helper died: reported by 'exit'
  }

  send(msg) {
    if (!this.child) return false;
    this.child.stdin.write(msg.replace(/[\r\n]+/g, ' ') + '\n');
    return true;
  }

  /** Ends the helper's input once everything written so far is flushed (bounded: 1 s). */
  close() {
    if (!this.child) return Promise.resolve();
    const stdin = this.child.stdin;
    return new Promise((resolve) => {
      const t = setTimeout(resolve, 1000);
      stdin.end(() => { clearTimeout(t); resolve(); });
    });
  }
}

// ------------------------------------------------------------------------------- bot state

class State {
  constructor(notifier) {
    this.notifier = notifier;
    this.state = 'connecting'; // connecting | ready | auth_failed | stopping
    this.reason = 'logging in';
    this.since = Date.now();
    this.notifiedReady = false;
  }

  set(state, reason) {
    if ((this.state === 'auth_failed' || this.state === 'stopping') && state !== 'stopping') return;
    if (state !== this.state) this.since = Date.now();
    this.state = state;
    this.reason = reason;
    this.notifier.send(`STATUS=${state}: ${reason}`);
  }
}

function serveHealth(st, client, host, port) {
  const reasons = { 200: 'OK', 401: 'Unauthorized', 404: 'Not Found', 405: 'Method Not Allowed',
    503: 'Service Unavailable' };
  const server = http.createServer((req, res) => {
    const p = new URL(req.url, 'http://x').pathname;
    let code;
    let body;
    if (p === '/health' || p === '/healthz') {
      code = { ready: 200, auth_failed: 401 }[st.state] || 503;
      const ping = client.ws.ping;
      body = {
        status: st.state,
        reason: st.reason,
        for_s: Math.round((Date.now() - st.since) / 100) / 10,
        latency_ms: Number.isFinite(ping) && ping >= 0 ? ping : null,
        guilds: st.state === 'ready' ? client.guilds.cache.size : null,
      };
    } else {
      code = 404;
      body = { error: 'not found' };
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      code = 405;
      body = { error: 'method not allowed' };
    }
    const payload = Buffer.from(JSON.stringify(body));
    res.writeHead(code, reasons[code], {
      'Content-Type': 'application/json',
      'Content-Length': payload.length,
      'Cache-Control': 'no-store',
      Connection: 'close',
    });
    res.end(req.method === 'HEAD' ? undefined : payload);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      log('info', `health endpoint on http://${host}:${server.address().port}/health`);
      resolve(server);
    });
  });
}

/** WATCHDOG=1 every WATCHDOG_USEC/2 while the event loop runs and the bot is ready or has been
 * without a session for less than `graceMs` (a reconnect storm stops the pings). */
function startWatchdog(st, graceMs) {
  let warnedSince = null;
  return setInterval(() => {
    const age = Date.now() - st.since;
    if (st.state === 'ready' || (st.state === 'connecting' && age < graceMs)) {
      st.notifier.send('WATCHDOG=1');
    } else if (st.state === 'connecting' && warnedSince !== st.since) {
      warnedSince = st.since; // once per episode
      log('warning', `no gateway session for ${Math.round(age / 1000)}s: withholding WATCHDOG=1`);
    }
  }, st.notifier.watchdogMs);
}

/** [exit code, log text] for an error that ended login() or the session. */
function classify(err) {
  const msg = String((err && err.message) || err);
  if (err && err.code === 'TokenInvalid') {
    return [EX_NOPERM, 'REST login refused (401): the token is invalid or was reset'];
  }
  if (/Authentication failed/.test(msg)) {
    return [EX_NOPERM, 'gateway closed with 4004: the token is invalid or was reset'];
  }
  if (err && err.code === 'UND_ERR_INVALID_ARG' && /Authorization/i.test(msg)) {
    return [EX_NOPERM, 'the token cannot be sent in an HTTP header (stray whitespace?)'];
  }
  if (/disallowed intents|invalid intents|Invalid shard|Sharding is required|invalid API version/i.test(msg)) {
    return [EX_CONFIG, `gateway refused the configuration: ${msg}`];
  }
  return [EX_FAIL, `${(err && err.name) || 'Error'}: ${msg}`];
}

// ------------------------------------------------------------------------------- main

async function main() {
  const level = (process.env.LOG_LEVEL || 'info').toLowerCase();
  if (!(level in LEVELS)) throw new ConfigError(`LOG_LEVEL=${JSON.stringify(level)} is not a log level`);
  logLevel = LEVELS[level];
  const token = (process.env.DISCORD_TOKEN || '').trim();
  if (!token) throw new ConfigError('DISCORD_TOKEN is not set');
  const host = process.env.HEALTH_HOST || '127.0.0.1';
  const port = envPort('HEALTH_PORT', 8080);
  const lingerS = envFloat('AUTH_FAIL_LINGER', 2, true);
  const graceMs = envFloat('BOT_CONNECT_GRACE', 120) * 1000;
  const endpoints = endpointOptions();
  // sd_notify first: loading discord.js takes a while on a busy machine, and the supervisor's
  // watchdog deadline runs from the spawn.
  const notifier = new Notifier();
  const st = new State(notifier);
  const timers = [];
  if (notifier.watchdogMs) {
    notifier.send('WATCHDOG=1');
    timers.push(startWatchdog(st, graceMs));
  }

  let discord;
  try {
    discord = require('discord.js');
  } catch (err) {
    throw new ConfigError(`cannot load discord.js (${err.message}); npm install discord.js@14 ` +
      '(NODE_PATH may point at its node_modules)');
  }
  const { Client, Events, GatewayIntentBits } = discord;

  const client = new Client({ intents: [GatewayIntentBits.Guilds], ...endpoints });
  const server = await serveHealth(st, client, host, port);

  let finish;
  const done = new Promise((resolve) => { finish = resolve; });
  let exitCode = null;
  let stopRequested = false;

  // The end of the bot: 77 keeps answering 401 for AUTH_FAIL_LINGER s (-1: until a signal).
  const end = (code, why, err) => {
    if (exitCode !== null) return;
    exitCode = code;
    if (code === EX_NOPERM) {
      st.set('auth_failed', why);
      log('error', why);
      log('error', `authentication failed: exiting ${code} so the supervisor waits for a new token ` +
        'instead of restarting');
      client.destroy().catch(() => {});
      if (lingerS === 0) finish();
      else if (lingerS > 0) setTimeout(finish, lingerS * 1000);
      // -1: wait for SIGTERM/SIGINT (the signal handler calls finish)
      if (stopRequested) finish();
      return;
    }
    if (code !== EX_OK) log('error', why + (err && err.stack ? `\n${err.stack}` : ''));
    st.set('stopping', why);
    finish();
  };

  const onSignal = (sig) => {
    stopRequested = true;
    if (exitCode === EX_NOPERM) {
      finish();
      return;
    }
    log('info', `${sig} received: closing the gateway session`);
    end(EX_OK, 'shutting down');
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));

  client.once(Events.ClientReady, (c) => {
    st.set('ready', `logged in as ${c.user.tag} (id ${c.user.id})`);
    log('info', `ready: logged in as ${c.user.tag} (id ${c.user.id}), ${c.guilds.cache.size} guild(s)`);
    if (!st.notifiedReady) st.notifiedReady = notifier.send('READY=1');
  });
  client.on(Events.ShardReady, () => st.set('ready', 'shard ready'));
  client.on(Events.ShardResume, () => st.set('ready', 'session resumed'));
  client.on(Events.ShardReconnecting, () => {
    if (st.state === 'ready') log('info', 'gateway disconnected, reconnecting');
    st.set('connecting', 'gateway disconnected, reconnecting');
  });
  // discord.js emits shardDisconnect only for the close codes it never recovers from.
  client.on(Events.ShardDisconnect, (ev) => {
    const code = ev && ev.code;
    if (code === 4004) end(EX_NOPERM, 'gateway closed with 4004: the token is invalid or was reset');
    else if (CONFIG_CLOSE_CODES.has(code)) end(EX_CONFIG, `gateway closed with ${code}: configuration error`);
    else end(EX_FAIL, `gateway closed with ${code}; discord.js will not reconnect`);
  });
  client.on(Events.Invalidated, () => end(EX_FAIL, 'session invalidated; discord.js will not reconnect'));
  client.on(Events.ShardError, (err) => log('warning', `shard error: ${err.message}`));
  client.on(Events.Error, (err) => log('warning', `client error: ${err.message}`));
  client.on(Events.MessageCreate, (msg) => {
    if (!msg.author.bot && msg.content === '!ping') {
      msg.channel.send(`pong (${client.ws.ping} ms)`).catch(() => {});
    }
  });
  if (logLevel <= LEVELS.debug) client.on(Events.Debug, (m) => log('debug', m));

  log('info', `logging in with token ${tokenFingerprint(token)}`);
  client.login(token).catch((err) => {
    const [code, why] = classify(err);
    end(code, why, err);
  });

  await done;
  notifier.send('STOPPING=1');
  for (const t of timers) clearInterval(t);
  try {
    await client.destroy();
  } catch (_) { /* already closed */ }
  server.close();
  await notifier.close();
  return exitCode === null ? EX_OK : exitCode;
}

process.on('unhandledRejection', (err) => {
  log('error', `unhandled rejection: ${(err && err.stack) || err}`);
  process.exit(EX_FAIL);
});

main().then(
  (code) => process.exit(code),
  (err) => {
    if (err instanceof ConfigError) {
      log('error', `configuration error: ${err.message}`);
      process.exit(EX_CONFIG);
    }
    log('error', `cannot start: ${(err && err.stack) || err}`);
    process.exit(EX_FAIL);
  },
);
