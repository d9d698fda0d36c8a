import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import type { Principal } from '#libs/accounts';
import { ApiError } from '#libs/copilot';

/**
 * The key was turned into a principal before the body was read (apps/gate.ts, onRequest); a
 * handler of a keyed route without one is a route someone forgot to mark with KEY_ROUTE.
 */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  canActivate(context: ExecutionContext): boolean {
    const req = context.switchToHttp().getRequest<{ principal?: Principal }>();
    if (!req.principal) throw new ApiError(500, 'This route is not behind the key gate', 'server_error', 'internal_error');
    return true;
  }
}
