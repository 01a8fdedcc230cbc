// pm2 process file: GANFORGE_INSTANCES independent `ganforge serve` processes on consecutive loopback ports from
// GANFORGE_BASE_PORT, for a load balancer in front (deploy/nginx.conf lists 8081-8082). From the repository root,
// after `npm ci && npm run build`:
//
//   pm2 start deploy/ecosystem.config.cjs
//   GANFORGE_INSTANCES=4 pm2 start deploy/ecosystem.config.cjs
//   pm2 restart ganforge-8081     # one at a time: the balancer sends traffic to the others meanwhile
//
// Each instance runs its own inference worker threads, so instances × workers should not exceed the cores.
const instances = Number(process.env.GANFORGE_INSTANCES ?? 2);
const basePort = Number(process.env.GANFORGE_BASE_PORT ?? 8081);
const workers = process.env.GANFORGE_WORKERS ?? '1';

module.exports = {
  apps: Array.from({ length: instances }, (_, i) => ({
    name: `ganforge-${basePort + i}`,
    script: 'dist/cli/main.js',
    args: ['serve', '--models', 'models', '--port', String(basePort + i), '--workers', workers],
    cwd: `${__dirname}/..`,
    exec_mode: 'fork',
    // pm2 stops with SIGINT, then SIGKILL after kill_timeout (default 1.6 s). ganforge answers what it accepted
    // within its own 10 s limit and exits 0, so give it longer than that.
    kill_timeout: 15_000,
    // A process that dies is restarted, with a growing delay if it keeps dying (e.g. a bad models folder).
    autorestart: true,
    exp_backoff_restart_delay: 200,
    env: { NODE_ENV: 'production' },
  })),
};
