import { createCipheriv, createDecipheriv, createHash, randomBytes, randomInt } from 'node:crypto';

const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const API_KEY_PREFIX = 'sk-cgw-';
const API_KEY_RE = /^sk-cgw-[0-9A-Za-z]{40}$/;
const GITHUB_TOKEN_RE = /^(ghu_|gho_|ghp_|ghs_|github_pat_)[0-9A-Za-z_]{20,255}$/;

export const sha256 = (value: string) => createHash('sha256').update(value).digest('hex');

export function generateApiKey(): string {
  let s = API_KEY_PREFIX;
  for (let i = 0; i < 40; i++) s += BASE62[randomInt(62)];
  return s;
}

export const isIssuedKeyFormat = (key: string) => API_KEY_RE.test(key);
export const isGithubToken = (key: string) => GITHUB_TOKEN_RE.test(key);

/** What a listing may show of a key: enough to recognise it, never enough to use it. */
export const keyPrefix = (key: string) => key.slice(0, API_KEY_PREFIX.length + 4);

/** AES-256-GCM with a random 96-bit nonce; output `v1.<nonce>.<ciphertext>.<tag>` in base64url. */
export class SecretBox {
  constructor(private readonly key: Buffer) {
    if (key.length !== 32) throw new Error('encryption key must be 32 bytes');
  }

  seal(plaintext: string): string {
    const nonce = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, nonce);
    const ct = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    return ['v1', nonce.toString('base64url'), ct.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
  }

  open(sealed: string): string {
    const [v, nonce, ct, tag] = sealed.split('.');
    if (v !== 'v1' || !nonce || ct === undefined || !tag) throw new Error('not a sealed value');
    const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(nonce, 'base64url'));
    decipher.setAuthTag(Buffer.from(tag, 'base64url'));
    return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
  }
}
