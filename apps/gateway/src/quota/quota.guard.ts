import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Principal } from '#libs/accounts';
import { QuotaService } from './quota.service.js';

/**
 * A key's day and month limits, checked before the upstream call: after ApiKeyGuard (the
 * principal) and KeyThrottlerGuard (the per-minute limit), on every route that calls Copilot.
 * A key without such limits passes at no cost.
 */
@Injectable()
export class QuotaGuard implements CanActivate {
  constructor(private readonly quota: QuotaService) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const principal = context.switchToHttp().getRequest<{ principal?: Principal }>().principal;
    if (principal?.limits) await this.quota.admit(principal);
    return true;
  }
}
