/**
 * Architecture rules over modules, run by `npm run arch` (and so by `npm test`); the rule on
 * cycles between the folders of lib/ is in .dependency-cruiser-lib-folders.mjs (it needs a
 * cruise of lib/<concept>/ alone). test/unit/architecture-rules.test.ts proves that each rule
 * reports a deliberate violation (fixtures under test/fixtures/arch/, excluded here).
 * @type {import('dependency-cruiser').IConfiguration}
 */
export default {
  forbidden: [
    {
      name: 'aws-sdk-only-in-adapters',
      comment:
        'Domain logic does not know AWS (DESIGN.md): only the adapters (lib/aws) call the AWS SDK. The embedded ' +
        'cloud (lib/local: the SQS poller stands in for event-source mappings), the CDK app (infra), benchmarks, ' +
        'tests and scripts may too. Anything else (functions/, lib/<concept>/, lib/*.ts, lib/cli, lib/api) goes through a port.',
      severity: 'error',
      from: { pathNot: '^(lib/aws|lib/local|infra|bench|test|scripts)/' },
      to: { path: ['(^|/)node_modules/@aws-sdk/', '^@aws-sdk/'] },
    },
    {
      name: 'handlers-only-through-wiring',
      comment:
        'A handler in functions/ is thin (DESIGN.md): it parses the event with the request and message schemas, ' +
        'calls one use case on the services of lib/wiring.ts and maps errors with lib/api. It does not build ' +
        'adapters (lib/aws) or reach domain services, ports or stores directly. Allowed: lib/wiring.ts, lib/api/, ' +
        'lib/errors.ts, lib/config.ts, lib/queues/ (message parsing, SQS batches), lib/<concept>/messages.ts (queue ' +
        'message schemas), the request schemas of the volume, snapshot and copy-job models, zod, Powertools and the ' +
        'aws-lambda types, and Node built-ins.',
      severity: 'error',
      from: { path: '^functions/' },
      to: {
        dependencyTypesNot: ['core'],
        pathNot: [
          '^lib/wiring\\.ts$',
          '^lib/api/',
          '^lib/errors\\.ts$',
          '^lib/config\\.ts$',
          '^lib/queues/',
          '^lib/[^/]+/messages\\.ts$',
          '^lib/(volumes/volume|snapshots/snapshot|copy-jobs/copy-job)\\.ts$',
          '(^|/)node_modules/(zod|@aws-lambda-powertools/[^/]+|@types/aws-lambda)/',
        ],
      },
    },
  ],
  options: {
    doNotFollow: { path: ['node_modules'] },
    exclude: { path: ['^test/fixtures/', '^cdk\\.out/'] },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      mainFields: ['module', 'main', 'types', 'typings'],
    },
  },
};
