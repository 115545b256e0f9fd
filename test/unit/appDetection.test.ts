import * as assert from 'node:assert';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, it } from 'node:test';
import { detectApps, parseProcfileLine } from '../../src/core/appDetection';

function folderWith(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sw-detect-'));
  for (const [name, text] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    fs.writeFileSync(path.join(dir, name), text);
  }
  return dir;
}

describe('detectApps', () => {
  it('finds FastAPI, Starlette, Flask and Django apps with their module paths and worker classes', async () => {
    const dir = folderWith({
      'main.py': 'from fastapi import FastAPI\napi: FastAPI = FastAPI(title="x")\n',
      'svc/web.py': 'from starlette.applications import Starlette\napp = Starlette()\n',
      'legacy/site.py': 'from flask import Flask\nserver = Flask(__name__)\n',
      'mysite/wsgi.py': 'from django.core.wsgi import get_wsgi_application\napplication = get_wsgi_application()\n',
      'mysite/asgi.py': 'from django.core.asgi import get_asgi_application\napplication = get_asgi_application()\n',
      '.venv/lib/fastapi_app.py': 'app = FastAPI()\n',
      'notes.py': 'x = 1\n',
    });
    const apps = await detectApps(dir);
    assert.deepStrictEqual(apps.map((a) => [a.label, a.definition.workerClass, a.source]).sort(), [
      ['gunicorn legacy.site:server', 'sync', path.join('legacy', 'site.py')],
      ['gunicorn main:api', 'uvicorn_worker.UvicornWorker', 'main.py'],
      ['gunicorn mysite.asgi:application', 'uvicorn_worker.UvicornWorker', path.join('mysite', 'asgi.py')],
      ['gunicorn mysite.wsgi:application', 'sync', path.join('mysite', 'wsgi.py')],
      ['gunicorn svc.web:app', 'uvicorn_worker.UvicornWorker', path.join('svc', 'web.py')],
    ]);
    fs.rmSync(dir, { recursive: true });
  });

  it('reads gunicorn.conf.py and Procfile', async () => {
    const dir = folderWith({
      'gunicorn.conf.py': 'wsgi_app = "app:app"\nworkers = 3\nworker_class = "gthread"\n',
      Procfile: 'web: gunicorn main:app -w 4 -k uvicorn.workers.UvicornWorker --bind 0.0.0.0:$PORT\nworker: python tasks.py\n',
    });
    const apps = await detectApps(dir);
    assert.deepStrictEqual(apps.map((a) => a.definition), [
      { server: 'gunicorn', app: 'app:app', args: ['--config', 'gunicorn.conf.py'], workers: 3, workerClass: 'gthread' },
      { server: 'gunicorn', app: 'main:app', workers: 4, workerClass: 'uvicorn.workers.UvicornWorker' },
    ]);
    fs.rmSync(dir, { recursive: true });
  });
});

describe('parseProcfileLine', () => {
  it('reads uvicorn lines, env prefixes and python -m, and keeps the bind on loopback', () => {
    assert.deepStrictEqual(parseProcfileLine('web: uvicorn main:app --host 0.0.0.0 --port $PORT --workers 2'), { server: 'uvicorn', app: 'main:app', workers: 2 });
    assert.deepStrictEqual(parseProcfileLine('web: ENV=1 python -m gunicorn --workers=5 pkg.app:create()'), { server: 'gunicorn', app: 'pkg.app:create()', workers: 5 });
    assert.strictEqual(parseProcfileLine('release: python manage.py migrate'), undefined);
    assert.strictEqual(parseProcfileLine('# comment'), undefined);
  });
});
