import tseslint from 'typescript-eslint';

// Imports point inward only: interfaces -> app -> domain; adapters -> app/domain.
const layer = (target, forbidden, message) => ({
  files: [`src/${target}/**/*.ts`],
  rules: {
    'no-restricted-imports': ['error', { patterns: [{ group: forbidden, message }] }],
  },
});

export default tseslint.config(
  // Browser assets are plain scripts served as they are, outside the TypeScript project.
  { ignores: ['node_modules', 'dist', '.spendtrail', 'coverage', 'test-artifacts', 'src/interfaces/web/assets'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true, allowNullish: true }],
    },
  },
  {
    files: ['src/**/*.test.ts'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
    },
  },
  layer('domain', ['**/app/**', '**/adapters/**', '**/interfaces/**', 'kysely', 'pg', 'fastify', 'commander', '@electric-sql/*', 'node:fs*', 'node:net', 'node:http', 'node:process'],
    'The domain is pure: no I/O, no drivers, no other layers.'),
  layer('app', ['**/adapters/**', '**/interfaces/**', 'kysely', 'pg', 'fastify', 'commander', '@electric-sql/*'],
    'Use cases depend on ports, not on adapters or interfaces.'),
  layer('adapters', ['**/interfaces/**'], 'Adapters do not depend on interfaces.'),
);
