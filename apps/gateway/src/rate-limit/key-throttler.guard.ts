import { Injectable, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerModuleOptions,
  type ThrottlerStorage,
} from '@nestjs/throttler';
import { ApiError } from '#libs/copilot';
import type { Principal } from '#libs/accounts';
import { MetricsService } from '#libs/metrics';

/** Rate limit per API key (not per IP): runs after ApiKeyGuard has put the principal on the request. */
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

  protected override async getTracker(req: { principal?: Principal }): Promise<string> {
    return req.principal!.keyId;
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
