import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { SecretBox, generateApiKey, isGithubToken, isIssuedKeyFormat, keyPrefix, sha256 } from './crypto.js';

describe('API keys', () => {
  it('issues sk-cgw- plus 40 base62 characters, each key different', () => {
    const keys = new Set(Array.from({ length: 200 }, generateApiKey));
    expect(keys.size).toBe(200);
    for (const k of keys) expect(k).toMatch(/^sk-cgw-[0-9A-Za-z]{40}$/);
  });

  it('hashes keys with SHA-256 (hex), the only form in which they are stored', () => {
    expect(sha256('abc')).toBe('ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  });

  it('tells issued keys and GitHub tokens apart from anything else', () => {
    expect(isIssuedKeyFormat(generateApiKey())).toBe(true);
    expect(isIssuedKeyFormat('sk-cgw-short')).toBe(false);
    expect(isGithubToken('ghu_' + 'a'.repeat(36))).toBe(true);
    expect(isGithubToken('github_pat_' + 'A1_'.repeat(20))).toBe(true);
    expect(isGithubToken('sk-proj-123')).toBe(false);
    expect(keyPrefix('sk-cgw-ABCDEFGH')).toBe('sk-cgw-ABCD');
  });
});

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it('round-trips and never repeats a ciphertext (random nonce)', () => {
    const a = box.seal('ghu_secret');
    const b = box.seal('ghu_secret');
    expect(a).not.toBe(b);
    expect(a).not.toContain('ghu_secret');
    expect(box.open(a)).toBe('ghu_secret');
  });

  it('refuses a tampered ciphertext or another key', () => {
    const sealed = box.seal('ghu_secret');
    const parts = sealed.split('.');
    parts[2] = Buffer.from('x' + Buffer.from(parts[2], 'base64url').toString('latin1').slice(1), 'latin1').toString('base64url');
    expect(() => box.open(parts.join('.'))).toThrow();
    expect(() => new SecretBox(randomBytes(32)).open(sealed)).toThrow();
    expect(() => new SecretBox(Buffer.alloc(16))).toThrow('32 bytes');
  });
});
