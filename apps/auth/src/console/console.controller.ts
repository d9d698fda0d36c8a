import { Controller, Get, Res } from '@nestjs/common';
import type { FastifyReply } from 'fastify';
import { randomBytes } from 'node:crypto';
import { consolePage } from './console.page.js';

/**
 * `GET /admin`: the admin console (issue 14). The page holds no admin data: it asks for the admin
 * token, keeps it in sessionStorage and reads and changes everything through the admin API of
 * design.md §4 (/auth/accounts, /auth/keys, /auth/usage) with it as the bearer. Its one script and
 * one style run under a per-request CSP nonce; nothing is loaded from anywhere else.
 */
@Controller('admin')
export class ConsoleController {
  @Get()
  page(@Res() reply: FastifyReply) {
    const nonce = randomBytes(16).toString('base64');
    reply
      .header(
        'content-security-policy',
        `default-src 'none'; script-src 'nonce-${nonce}'; style-src 'nonce-${nonce}'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'`,
      )
      .header('cache-control', 'no-store')
      .header('referrer-policy', 'no-referrer')
      .header('x-content-type-options', 'nosniff')
      .type('text/html; charset=utf-8')
      .send(consolePage(nonce));
  }
}
