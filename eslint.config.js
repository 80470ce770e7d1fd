import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const awsSdkOnlyInAdapters = {
  patterns: [
    {
      group: ['@aws-sdk/*'],
      message: 'AWS SDK calls belong in lib/aws (adapters), lib/local (the embedded cloud) or infra.',
    },
    {
      group: ['aws-cdk-lib', 'aws-cdk-lib/*', 'constructs'],
      message: 'CDK belongs in infra/.',
    },
  ],
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'cdk.out/**', '.sleds/**', 'coverage/**', 'test/fixtures/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      globals: { process: 'readonly', console: 'readonly', Buffer: 'readonly', setTimeout: 'readonly', clearTimeout: 'readonly', performance: 'readonly', URL: 'readonly', NodeJS: 'readonly' },
    },
    rules: {
      'no-restricted-imports': ['error', awsSdkOnlyInAdapters],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
    },
  },
  {
    // Adapters, the embedded cloud and tests that check the emulators directly may use the SDK.
    files: ['lib/aws/**', 'lib/local/**', 'test/**', 'bench/**'],
    rules: { 'no-restricted-imports': ['error', { patterns: [awsSdkOnlyInAdapters.patterns[1]] }] },
  },
  {
    // Tests read loosely typed JSON responses.
    files: ['test/**'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    // The browser console: the domain's types only (`import type` vanishes at build), no Node.
    // Its tsconfig loads Node's types so that tsc can follow those type imports into lib/.
    files: ['lib/console/app/**'],
    languageOptions: { globals: { Buffer: 'off', process: 'off', NodeJS: 'off' } },
    rules: {
      'no-restricted-globals': ['error', 'Buffer', 'process', 'global', 'require'],
      'no-restricted-imports': 'off',
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['node:*'], message: 'The console runs in the browser.' },
            { group: ['../../*', '../../../*'], allowTypeImports: true, message: 'The console takes only types from lib/ (import type): its bundle holds no domain code.' },
          ],
        },
      ],
    },
  },
  {
    files: ['infra/**', 'test/infra/**'],
    rules: { 'no-restricted-imports': 'off' },
  },
);
