import type { ClientHttp2Session, Settings } from 'node:http2';
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { Client, Dispatcher, buildConnector, errors } from 'undici';
import { onAbort, type AnySignal } from './call-signal.js';

/**
 * undici keeps a connection's HTTP/2 session under a symbol of its own, and the session is the only
 * way to the server's SETTINGS. An undici that moves it fails here, at boot, not in production.
 */
const { kHTTP2Session } = createRequire(import.meta.url)('undici/lib/core/symbols.js') as { kHTTP2Session: unknown };
if (typeof kHTTP2Session !== 'symbol') throw new Error('this undici keeps no HTTP/2 session where MultiplexPool looks for it');

export interface MultiplexPoolOptions {
  /** connections to the origin at most (HTTP_MAX_CONNECTIONS) */
  connections: number;
  /** streams on one connection at most, however many the server allows */
  maxStreams: number;
  headersTimeout: number;
  bodyTimeout: number;
  keepAliveTimeout: number;
}

interface Connection {
  client: Client;
  /** ALPN's answer for the last socket made; null when the last attempt failed */
  protocol: string | null;
  socket: Socket | null;
  connected: boolean;
  /** may take requests: connected and, over HTTP/2, the server's SETTINGS read */
  ready: boolean;
  /** a connection is being made (over HTTP/2: until its SETTINGS arrive) */
  opening: boolean;
  /** its last dispatch said it is busy; until it drains */
  full: boolean;
  /** a GOAWAY came: it finishes the streams it has and takes no more */
  retired: boolean;
}

interface Waiting {
  opts: Dispatcher.DispatchOptions;
  /** null once it has left the queue */
  handler: Dispatcher.DispatchHandler | null;
  off: (() => void) | null;
}

/**
 * An undici Pool for an origin that speaks HTTP/2 (ALPN decides; one that answers HTTP/1.1 gets one
 * request per connection, as from Pool). undici 7's Pool does not fit HTTP/2 four ways, each seen
 * against the fake upstream:
 * - it puts up to `pipelining` streams on a connection and never reads the server's
 *   SETTINGS_MAX_CONCURRENT_STREAMS: streams over it are refused on a new connection (REFUSED_STREAM),
 *   and on an established one wait in nghttp2 while other connections stand idle;
 * - a burst opens a connection per request, up to the cap, while the first handshake is on its way
 *   (a connecting client counts as busy);
 * - it sends a POST only on a connection that carries nothing else (HTTP/1.1 pipelining's rule);
 * - a GOAWAY fails every stream of the connection, even those the server would have finished.
 * Here a connection takes min(maxStreams, the server's limit) streams once its SETTINGS are read
 * (one before), connections are opened only for requests the ones opening will not take, a GOAWAY
 * retires its connection once its streams are done, and requests wait in one queue, in order; one
 * whose signal aborts leaves it at once.
 */
export class MultiplexPool extends Dispatcher {
  private readonly conns: Connection[] = [];
  private readonly queue: Waiting[] = [];
  private head = 0;
  private waiting = 0;
  /** streams a connection of this origin took, as the last one said (1 over HTTP/1.1); null before */
  private limit: number | null = null;
  private readonly connector: buildConnector.connector;
  private closed = false;
  private emptied: (() => void) | null = null;

  constructor(
    private readonly origin: string,
    private readonly options: MultiplexPoolOptions,
  ) {
    super();
    this.connector = buildConnector({ allowH2: true });
  }

  dispatch(opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    if (this.closed) throw new errors.ClientClosedError();
    // HTTP/1.1 pipelining's rule keeps a non-idempotent request off a busy connection; streams do
    // not share a fate that way, and one cut before its first byte is retried by the caller.
    opts = Object.assign({}, opts, { idempotent: true }); // not `{ ...opts, idempotent }`: off V8's fast path on Node 20
    if (this.waiting === 0) {
      const conn = this.free();
      if (conn) {
        this.send(conn, opts, handler);
        return true;
      }
    }
    const signal = (opts as { signal?: AnySignal | null }).signal;
    const aborted = () => signal?.reason ?? new errors.RequestAbortedError();
    if (signal?.aborted) {
      handler.onError?.(aborted());
      return true;
    }
    const w: Waiting = { opts, handler, off: null };
    if (signal) w.off = onAbort(signal, () => this.fail(w, aborted()));
    this.queue.push(w);
    this.waiting++;
    this.pump();
    return true;
  }

  /** What /stats shows: connections, those with room for a stream, requests waiting and running. */
  get stats(): { connected: number; free: number; pending: number; running: number } {
    let connected = 0;
    let free = 0;
    let pending = this.waiting;
    let running = 0;
    for (const c of this.conns) {
      const s = c.client.stats;
      if (s.connected) connected++;
      if (s.connected && c.ready && !c.full) free++;
      pending += s.pending;
      running += s.running;
    }
    return { connected, free, pending, running };
  }

  /** The promise forms of close() and destroy() only (callers here use no other). */
  async close(): Promise<void> {
    this.closed = true;
    if (this.waiting) await new Promise<void>((resolve) => (this.emptied = resolve));
    await Promise.all(this.conns.map((c) => c.client.close()));
  }

  async destroy(err?: unknown): Promise<void> {
    const reason = err instanceof Error ? err : null;
    this.closed = true;
    this.failWaiting(reason ?? new errors.ClientDestroyedError());
    await Promise.all(this.conns.map((c) => c.client.destroy(reason)));
  }

  private free(): Connection | undefined {
    for (const c of this.conns) if (c.ready && !c.full && !c.retired) return c;
    return undefined;
  }

  private send(conn: Connection, opts: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler) {
    if (conn.client.dispatch(opts, handler)) return;
    // false also when undici refused the request outright (bad options): the client is not busy
    // then, no 'drain' will come, and no connection was started for it.
    conn.full = busy(conn.client);
    if (!conn.client.stats.size && !conn.connected) conn.opening = false;
  }

  /** Hands waiting requests to connections with room, and opens one when none has. */
  private pump(): void {
    while (this.head < this.queue.length) {
      const w = this.queue[this.head];
      if (!w.handler) {
        this.head++;
        continue;
      }
      const conn = this.free() ?? this.open();
      if (!conn) break;
      this.head++;
      this.waiting--;
      w.off?.();
      this.send(conn, w.opts, w.handler);
    }
    if (this.head === this.queue.length) {
      this.queue.length = 0;
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    if (!this.waiting && this.emptied) this.emptied();
  }

  /**
   * A connection for the next waiting request to open, or none: not while those being opened (each
   * carrying one already) will take every request waiting, as far as the last SETTINGS tell; before
   * any, one at a time.
   */
  private open(): Connection | undefined {
    let opening = 0;
    for (const c of this.conns) if (c.opening) opening++;
    if (opening && (this.limit === null || opening * (this.limit - 1) >= this.waiting)) return undefined;
    let conn = this.conns.find((c) => !c.connected && !c.opening && !c.retired && c.client.stats.size === 0);
    if (!conn) {
      if (this.conns.length >= this.options.connections) return undefined;
      conn = this.add();
    }
    conn.opening = true;
    return conn;
  }

  private add(): Connection {
    const conn: Connection = { client: null as unknown as Client, protocol: null, socket: null, connected: false, ready: false, opening: false, full: false, retired: false };
    conn.client = new Client(this.origin, {
      allowH2: true,
      pipelining: 1,
      headersTimeout: this.options.headersTimeout,
      bodyTimeout: this.options.bodyTimeout,
      keepAliveTimeout: this.options.keepAliveTimeout,
      connect: (opts, callback) =>
        this.connector(opts, (...args) => {
          conn.socket = args[1];
          conn.protocol = args[1] ? (args[1] as TLSSocket).alpnProtocol || 'http/1.1' : null;
          callback(...args);
        }),
    });
    conn.client
      .on('connect', () => this.connected(conn))
      .on('disconnect', () => this.disconnected(conn))
      .on('connectionError', (_origin, _targets, err) => this.lost(conn, err))
      .on('drain', () => {
        conn.full = busy(conn.client);
        if (!conn.full) return this.pump();
        // A stale 'drain' (undici emits it from a microtask; the client filled up again before): it
        // cleared undici's need-drain mark, and without it no 'drain' would come when this one
        // empties. Setting pipelining makes undici look again, and mark it.
        conn.client.pipelining = conn.client.pipelining;
      });
    this.conns.push(conn);
    return conn;
  }

  private connected(conn: Connection) {
    conn.connected = true;
    const session = conn.protocol === 'h2' ? ((conn.client as unknown as Record<symbol, ClientHttp2Session | null>)[kHTTP2Session as symbol] ?? null) : null;
    if (!session) {
      this.limit = 1;
      conn.opening = false;
      conn.ready = true;
      return this.pump();
    }
    conn.opening = true;
    conn.ready = false;
    // Every SETTINGS frame, not just the first: a server may lower its limit on a live connection.
    session.on('remoteSettings', (settings: Settings) => {
      this.limit = Math.max(1, Math.min(this.options.maxStreams, settings.maxConcurrentStreams ?? this.options.maxStreams));
      conn.client.pipelining = this.limit;
      conn.opening = false;
      conn.ready = conn.connected && !conn.retired;
      conn.full = busy(conn.client);
      this.pump();
    });
    // undici answers a GOAWAY by destroying the socket: every stream on it fails, those the server
    // would have finished too. Node's own handling is graceful: no new streams, the others end as
    // they would, those past the GOAWAY's last stream id refused (the caller retries those).
    session.removeAllListeners('goaway');
    session.once('goaway', () => this.retire(conn));
  }

  /**
   * After a GOAWAY: out of the rotation, closed once its streams are done. Node then only half-closes
   * the socket and waits for the server's end, which a server holding a stream it will never answer
   * does not send: the socket is destroyed here.
   */
  private retire(conn: Connection) {
    conn.retired = true;
    conn.ready = false;
    conn.opening = false;
    // Requests queued on the client and not yet sent would go to a session that no longer takes
    // streams (Node throws then): none should be there, and any that are fail to be retried.
    const done = conn.client.stats.pending ? conn.client.destroy(new errors.SocketError('HTTP/2: GOAWAY received')) : conn.client.close();
    done.catch(() => {}).then(() => {
      conn.socket?.destroy();
      const at = this.conns.indexOf(conn);
      if (at !== -1) this.conns.splice(at, 1);
      this.pump();
    });
    this.pump();
  }

  private disconnected(conn: Connection) {
    if (!conn.connected && !conn.opening) return;
    conn.connected = false;
    conn.ready = false;
    conn.opening = false;
    // The next socket of this client waits for its own SETTINGS too.
    conn.client.pipelining = 1;
    this.pump();
  }

  /**
   * undici says 'connectionError' when a connection could not be made: it has failed the requests
   * given to it, and those waiting here fail too when no connection is up (the origin is
   * unreachable; the caller's retry rules decide). Were undici's own GOAWAY handling to run, it says
   * so too, after re-queueing the connection's requests on a client that a late 'close' of the old
   * socket can leave believing it is offline: that client is destroyed, its requests failed with
   * the GOAWAY's error.
   */
  private lost(conn: Connection, err: Error) {
    const at = this.conns.indexOf(conn);
    if (at === -1) return;
    this.conns.splice(at, 1);
    if (conn.protocol) conn.client.destroy(err).catch(() => {});
    else {
      conn.client.close().catch(() => {});
      if (!this.conns.some((c) => c.connected)) this.failWaiting(err);
    }
    this.pump();
  }

  private failWaiting(err: Error) {
    for (let i = this.head; i < this.queue.length; i++) this.fail(this.queue[i], err);
    this.pump();
  }

  private fail(w: Waiting, err: Error) {
    const handler = w.handler;
    if (!handler) return;
    w.handler = null;
    w.off?.();
    this.waiting--;
    handler.onError?.(err);
    if (!this.waiting) this.emptied?.();
  }
}

/** undici's own test for a client that takes no more requests now (kBusy, from its public stats). */
function busy(client: Client): boolean {
  const { size, pending } = client.stats;
  return size >= client.pipelining || pending > 0;
}
