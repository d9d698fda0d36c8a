import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, UseGuards } from '@nestjs/common';
import { AccountsService, sha256 } from '#libs/accounts';
import { ApiError, ExchangeError } from '#libs/copilot';
import { AdminRoutes } from '#libs/platform';
import { AdminGuard } from './admin.guard.js';
import { accountView, apiKeyField, githubTokenField, issuedView, keyView, limitsField, objectBody, onlyFields, optionalSeconds, optionalString } from './admin-views.js';

/** design.md §4, admin table: accounts and keys for ops, behind ADMIN_TOKEN. */
@Controller('auth')
@AdminRoutes()
@UseGuards(AdminGuard)
export class AdminController {
  constructor(private readonly accounts: AccountsService) {}

  @Get('accounts')
  async listAccounts() {
    return { data: (await this.accounts.listAccounts()).map(accountView) };
  }

  /** Imports an account from a GitHub token (no browser) and issues its first key. */
  @Post('accounts')
  async createAccount(@Body() input: unknown) {
    const githubToken = githubTokenField(objectBody(input));
    let account;
    try {
      account = await this.accounts.registerGithubToken(githubToken);
    } catch (err) {
      if (!(err instanceof ExchangeError)) throw err;
      if (err.kind === 'revoked') throw ApiError.badRequest('GitHub refused this token (invalid or revoked)', 'github_token', 'invalid_github_token');
      throw err.toApiError();
    }
    return { account: accountView(account), key: issuedView(await this.accounts.issueKey(account.id, { name: 'first key' })) };
  }

  @Delete('accounts/:id')
  @HttpCode(204)
  async deleteAccount(@Param('id') id: string) {
    if (!(await this.accounts.deleteAccount(id))) throw ApiError.notFound(`No account ${id}`, 'account_not_found');
  }

  @Get('keys')
  async listKeys() {
    return { data: (await this.accounts.listKeys()).map(keyView) };
  }

  @Post('keys')
  async createKey(@Body() input: unknown) {
    const body = objectBody(input);
    const accountId = optionalString(body, 'account_id');
    if (!accountId) throw ApiError.badRequest("'account_id' is a required property", 'account_id', 'missing_required_parameter');
    const issued = await this.accounts.issueKey(accountId, {
      name: optionalString(body, 'name'),
      expiresInSeconds: optionalSeconds(body, 'expires_in', 1, 10 * 365 * 86400),
      limits: limitsField(body),
    });
    return issuedView(issued);
  }

  /** Renames a key or changes its limits (a number sets one, null clears one); every replica applies it within 1 s. */
  @Patch('keys/:id')
  async updateKey(@Param('id') id: string, @Body() input: unknown) {
    const body = objectBody(input);
    onlyFields(body, ['name', 'limits']);
    const name = body.name === undefined ? undefined : optionalString(body, 'name');
    const key = await this.accounts.updateKey(id, { name, limits: limitsField(body) });
    if (!key) throw ApiError.notFound(`No key ${id}`, 'key_not_found');
    return keyView(key);
  }

  @Post('keys/:id/rotate')
  async rotateKey(@Param('id') id: string, @Body() input: unknown) {
    const grace = optionalSeconds(input === undefined ? {} : objectBody(input), 'grace_seconds', 0, 30 * 86400) ?? 0;
    const { issued, replaced, oldExpiresAt } = await this.accounts.rotateKey(id, grace);
    return { id: issued.record.id, key: issued.key, replaces: replaced.id, old_key_expires_at: oldExpiresAt };
  }

  @Delete('keys/:id')
  @HttpCode(204)
  async revokeKey(@Param('id') id: string) {
    const key = await this.accounts.findKey(id);
    if (!key) throw ApiError.notFound(`No key ${id}`, 'key_not_found');
    await this.accounts.revokeKey(key.hash);
  }

  /** The seed's routes, kept for its users: the keys, and revocation by the key itself. */
  @Get('tokens')
  listTokens() {
    return this.listKeys();
  }

  /** Revocation by the key itself, named in the body: a URL ends up in proxy logs, a body does not. */
  @Delete('tokens')
  @HttpCode(204)
  async revokeTokenInBody(@Body() input: unknown) {
    await this.revokeByKey(apiKeyField(objectBody(input)));
  }

  /** The seed's form, key in the URL; kept for its users, DELETE /auth/tokens {api_key} preferred. */
  @Delete('tokens/:apiKey')
  @HttpCode(204)
  async revokeToken(@Param('apiKey') apiKey: string) {
    await this.revokeByKey(apiKey);
  }

  private async revokeByKey(apiKey: string) {
    const hash = sha256(apiKey);
    const key = (await this.accounts.listKeys()).find((k) => k.hash === hash);
    if (!key) throw ApiError.notFound('No such key', 'key_not_found');
    await this.accounts.revokeKey(hash);
  }
}
