import { defineConfig } from 'vitest/config';

export default defineConfig({
  // '#libs/*' resolves to the TypeScript sources under the 'cgw-source' condition (package.json
  // "imports"); a name of our own, since some packages publish their TypeScript under 'source'.
  resolve: { conditions: ['cgw-source'] },
  ssr: { resolve: { conditions: ['cgw-source'] } },
  test: {
    include: ['apps/**/*.spec.ts', 'libs/**/*.spec.ts', 'test/**/*.e2e-spec.ts'],
    exclude: ['node_modules', 'dist'],
    globalSetup: ['test/support/global-setup.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    pool: 'forks',
  },
});
