import { Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerGenerateKeyFunction,
  type ThrottlerGetTrackerFunction,
  type ThrottlerModuleOptions,
  type ThrottlerOptions,
  type ThrottlerRequest,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { ApiError } from '#libs/copilot';
import type { Principal } from '#libs/accounts';
import { MetricsService } from '#libs/metrics';

/** A key's own `requests_per_minute` is a window of this length. */
export const KEY_LIMIT_WINDOW_MS = 60_000;

/**
 * Rate limit per API key (not per IP): runs after ApiKeyGuard has put the principal on the request.
 * A key with its own `requests_per_minute` (design.md §4) is limited by that, per minute, instead of
 * RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW, with the same rules: the same window in the store,
 * exact across replicas, the same 429 and x-ratelimit-* headers.
 */
@Injectable()
export class KeyThrottlerGuard extends ThrottlerGuard {
  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() storage: ThrottlerStorage,
    reflector: Reflector,
    private readonly metrics: MetricsService,
  ) {
    super(options, storage, reflector);
  }

  /** Per handler, then class: each throttler with its route's decorator metadata, read once. */
  private readonly routes = new WeakMap<object, WeakMap<object, RouteThrottler[]>>();

  /**
   * ThrottlerGuard.canActivate, step for step, without what it costs on every request: the
   * decorators' metadata (five reflector lookups per throttler, each walking the handler's and the
   * class's metadata) is read once per route, since it does not change after start; values that
   * are plain numbers are taken as they are instead of through a promise each. Functions
   * (`Resolvable<number>`, skipIf) are still called per request, handleRequest runs as before.
   * The base's shouldSkip always answers false and this guard does not change it.
   */
  override async canActivate(context: ExecutionContext): Promise<boolean> {
    let admitted = true;
    for (const t of this.route(context.getHandler(), context.getClass())) {
      const throttler = t.throttler;
      const skipIf = throttler.skipIf || this.commonOptions.skipIf;
      if (t.skip || skipIf?.(context)) continue;
      const name = throttler.name!;
      const limit = toNumber(await resolve(context, t.limit ?? throttler.limit), 'limit', name);
      const ttl = toNumber(await resolve(context, t.ttl ?? throttler.ttl), 'ttl', name);
      const blockDuration = toNumber(await resolve(context, t.blockDuration ?? throttler.blockDuration ?? ttl), 'blockDuration', name);
      const getTracker = t.getTracker || throttler.getTracker || this.commonOptions.getTracker!;
      const generateKey = t.generateKey || throttler.generateKey || this.commonOptions.generateKey!;
      if (!(await this.handleRequest({ context, limit, ttl, throttler, blockDuration, getTracker, generateKey }))) admitted = false;
    }
    return admitted;
  }

  private route(handler: object, classRef: object): RouteThrottler[] {
    let byClass = this.routes.get(handler);
    if (!byClass) this.routes.set(handler, (byClass = new WeakMap()));
    let route = byClass.get(classRef);
    if (!route) {
      const targets = [handler, classRef] as Parameters<Reflector['getAllAndOverride']>[1];
      const meta = <T>(key: string, name: string) => this.reflector.getAllAndOverride<T>(key + name, targets);
      route = this.throttlers.map((throttler) => ({
        throttler,
        skip: meta<boolean>('THROTTLER:SKIP', throttler.name!),
        limit: meta<Resolvable>('THROTTLER:LIMIT', throttler.name!),
        ttl: meta<Resolvable>('THROTTLER:TTL', throttler.name!),
        blockDuration: meta<Resolvable>('THROTTLER:BLOCK_DURATION', throttler.name!),
        getTracker: meta<ThrottlerGetTrackerFunction>('THROTTLER:TRACKER', throttler.name!),
        generateKey: meta<ThrottlerGenerateKeyFunction>('THROTTLER:KEY_GENERATOR', throttler.name!),
      }));
      byClass.set(classRef, route);
    }
    return route;
  }

  protected override async getTracker(req: { principal?: Principal }): Promise<string> {
    return req.principal!.keyId;
  }

  protected override handleRequest(props: ThrottlerRequest): Promise<boolean> {
    const own = (props.context.switchToHttp().getRequest<{ principal?: Principal }>().principal?.limits?.requests_per_minute);
    if (!own) return super.handleRequest(props);
    return super.handleRequest({ ...props, limit: own, ttl: KEY_LIMIT_WINDOW_MS, blockDuration: KEY_LIMIT_WINDOW_MS });
  }

  protected override generateKey(_context: ExecutionContext, tracker: string): string {
    return tracker;
  }

  protected override async throwThrottlingException(_context: ExecutionContext, detail: ThrottlerLimitDetail): Promise<void> {
    this.metrics.rateLimited.inc();
    throw new ApiError(
      429,
      `Rate limit reached for this key: ${detail.limit} requests per ${Math.round(detail.ttl / 1000)} s. Retry after ${detail.timeToBlockExpire} s.`,
      'rate_limit_error',
      'rate_limit_exceeded',
      null,
      // The same x-ratelimit-* an admitted request carries, so a client reads one set of headers.
      {
        'retry-after': String(detail.timeToBlockExpire),
        'x-ratelimit-limit': String(detail.limit),
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(detail.timeToBlockExpire),
      },
    );
  }
}

type Resolvable = number | string | ((context: ExecutionContext) => number | string | Promise<number | string>);

/** One throttler as a route sees it: the options, and what the route's (or its class's) decorators say. */
interface RouteThrottler {
  throttler: ThrottlerOptions;
  skip: boolean | undefined;
  limit: Resolvable | undefined;
  ttl: Resolvable | undefined;
  blockDuration: Resolvable | undefined;
  getTracker: ThrottlerGetTrackerFunction | undefined;
  generateKey: ThrottlerGenerateKeyFunction | undefined;
}

/** ThrottlerGuard's resolveValue: a function of the context is called (and awaited by the caller). */
const resolve = (context: ExecutionContext, value: unknown) => (typeof value === 'function' ? value(context) : value);

/** ThrottlerGuard's toNumber, with its error. */
function toNumber(value: unknown, option: string, throttlerName: string): number {
  const number = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  if (typeof number !== 'number' || Number.isNaN(number))
    throw new Error(`Invalid "${option}" for the "${throttlerName}" throttler: expected a number, got ${JSON.stringify(value)}.`);
  return number;
}
