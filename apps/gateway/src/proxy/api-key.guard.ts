import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { AccountsService, type Principal } from '#libs/accounts';

/** Step 2 of the hot path: the bearer key becomes a principal (LRU, then the store). */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  constructor(private readonly accounts: AccountsService) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const req = context.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; principal?: Principal }>();
    const resolved = this.accounts.resolve(req.headers.authorization);
    if (resolved instanceof Promise)
      return resolved.then((p) => {
        req.principal = p;
        return true;
      });
    req.principal = resolved;
    return true;
  }
}
