import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { waitForStatus } from './http.ts';
import { freePort } from './processes.ts';
import { temporaryDirectory } from './environment.ts';

export const NGINX_BINARY = process.env.NGINX_BINARY ?? '/usr/sbin/nginx';
export const nginxAvailable = () => existsSync(NGINX_BINARY);

/**
 * A real nginx (Debian's package) on loopback in front of `upstream`, configured the way the README
 * tells operators to: it appends the address it saw to X-Forwarded-For and passes the Host on.
 */
export async function startNginx(
  upstream: string,
  options: { port?: number } = {},
): Promise<{ url: string; port: number; stop(): Promise<void> }> {
  const dir = await temporaryDirectory();
  const port = options.port ?? (await freePort());
  await mkdir(path.join(dir.path, 'logs'), { recursive: true });
  const config = `
daemon off;
master_process off;
worker_processes 1;
pid ${dir.path}/nginx.pid;
error_log ${dir.path}/logs/error.log warn;
events { worker_connections 128; }
http {
  access_log off;
  client_body_temp_path ${dir.path}/body;
  proxy_temp_path ${dir.path}/proxy;
  fastcgi_temp_path ${dir.path}/fastcgi;
  uwsgi_temp_path ${dir.path}/uwsgi;
  scgi_temp_path ${dir.path}/scgi;
  server {
    listen 127.0.0.1:${port};
    location / {
      proxy_pass ${upstream};
      proxy_http_version 1.1;
      proxy_set_header Host $http_host;
      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
      proxy_set_header X-Forwarded-Proto $scheme;
    }
  }
}`;
  const file = path.join(dir.path, 'nginx.conf');
  await writeFile(file, config);
  const child = spawn(NGINX_BINARY, ['-p', dir.path, '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let errors = '';
  child.stderr?.on('data', (chunk: Buffer) => (errors += chunk.toString()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitForStatus(`${url}/healthz`, 200, 10_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`nginx did not start: ${errors || (error as Error).message}`, { cause: error });
  }
  return {
    url,
    port,
    async stop() {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.kill('SIGTERM');
      await exited;
      await dir.remove();
    },
  };
}
