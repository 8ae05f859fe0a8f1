// ESLint, run by `npm test` (npm run lint) before the tests. Type-aware: the rules that catch
// what the compiler cannot (a promise nobody awaits, a type imported as a value, a name left
// unused) read the TypeScript program of the file's nearest tsconfig.json.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'dist/**',
      'node_modules/**',
      '.venv*/**',
      '.local/**',
      'coverage/**',
      'test-results/**',
      'sdks/python/**',
      'sdks/typescript/dist/**',
      'portal/src/api-types.d.ts',
    ],
  },
  {
    files: ['**/*.ts'],
    extends: [js.configs.recommended, ...tseslint.configs.recommendedTypeChecked],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_' },
      ],
      // An async method without `await` is how a port's synchronous implementation (the memory
      // fakes, a cache) keeps the port's promise-returning signature; that is not a mistake here.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Tests read response bodies as the JSON they are; typing every one would add noise, not safety.
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
    },
  },
  {
    files: ['**/*.mjs'],
    extends: [js.configs.recommended],
    languageOptions: { globals: { console: 'readonly', process: 'readonly', URL: 'readonly' } },
  },
);
