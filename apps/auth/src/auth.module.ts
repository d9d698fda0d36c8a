import { Module } from '@nestjs/common';

/**
 * The auth service: device flow, admin API and the token-refresh worker arrive with the auth
 * issue. Until then accounts and keys are created through AccountsService (libs/accounts).
 */
@Module({})
export class AuthModule {}
