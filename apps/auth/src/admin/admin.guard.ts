import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { createHash, timingSafeEqual } from 'node:crypto';
import { InjectConfig, type AppConfig } from '#libs/config';
import { ApiError } from '#libs/copilot';

const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * `Authorization: Bearer $ADMIN_TOKEN`, compared in constant time (both sides hashed first, so
 * not even the length leaks). Without ADMIN_TOKEN the admin API does not exist: 404.
 */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly expected: Buffer | null;

  constructor(@InjectConfig() config: AppConfig) {
    this.expected = config.adminToken ? digest(config.adminToken) : null;
  }

  canActivate(context: ExecutionContext): boolean {
    if (!this.expected) throw ApiError.notFound('Unknown route; the admin API is off (set ADMIN_TOKEN)', 'unknown_route');
    const header = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers.authorization;
    const given = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '')?.[1];
    if (!given) throw ApiError.unauthorized('The admin API needs "Authorization: Bearer <ADMIN_TOKEN>"', 'missing_admin_token');
    if (!timingSafeEqual(digest(given), this.expected)) throw ApiError.unauthorized('Wrong admin token', 'invalid_admin_token');
    return true;
  }
}
