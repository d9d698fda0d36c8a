import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { InjectConfig, type AppConfig } from '#libs/config';
import { adminTokenCheck } from '#libs/platform';

/**
 * `Authorization: Bearer $ADMIN_TOKEN` (libs/platform's gate checks it before the body is read;
 * this guard says the same again, so a route that forgot `@AdminRoutes()` is still closed).
 */
@Injectable()
export class AdminGuard implements CanActivate {
  private readonly check: (authorization: string | undefined) => void;

  constructor(@InjectConfig() config: AppConfig) {
    this.check = adminTokenCheck(config.adminToken);
  }

  canActivate(context: ExecutionContext): boolean {
    this.check(context.switchToHttp().getRequest<{ headers: Record<string, string | undefined> }>().headers.authorization);
    return true;
  }
}
