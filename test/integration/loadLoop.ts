/**
 * A load loop for the reload tests: `lanes` clients, each sending GET / on a new connection (Connection: close) as soon
 * as its last answer came, until stopped or `maxSeconds` passed. Every answer is kept (status, the app's text and pid,
 * the time); every failure too (a status other than 200, a reset or refused connection, a timeout).
 */
import * as http from 'node:http';

export interface Answer {
  at: number;
  status: number;
  text?: string;
  pid?: number;
}

export interface Failure {
  at: number;
  what: string;
}

export class LoadLoop {
  readonly answers: Answer[] = [];
  readonly failures: Failure[] = [];
  private running = true;
  private readonly lanes: Array<Promise<void>>;
  private readonly deadline: number;

  constructor(private readonly port: number, lanes = 4, maxSeconds = 300) {
    this.deadline = Date.now() + maxSeconds * 1000;
    this.lanes = Array.from({ length: lanes }, () => this.lane());
  }

  /** Answers since `from` (ms since the epoch). */
  since(from: number): Answer[] {
    return this.answers.filter((a) => a.at >= from);
  }

  async stop(): Promise<{ answers: number; failures: Failure[] }> {
    this.running = false;
    await Promise.all(this.lanes);
    return { answers: this.answers.length, failures: this.failures };
  }

  private async lane(): Promise<void> {
    while (this.running && Date.now() < this.deadline) await this.once();
  }

  private once(): Promise<void> {
    return new Promise((resolve) => {
      const request = http.get({ host: '127.0.0.1', port: this.port, path: '/', agent: false }, (response) => {
        let body = '';
        response.on('data', (chunk) => (body += chunk));
        response.on('error', (error) => this.fail(error.message, resolve));
        response.on('end', () => {
          const answer: Answer = { at: Date.now(), status: response.statusCode ?? 0 };
          try {
            const parsed = JSON.parse(body) as { text?: string; pid?: number };
            answer.text = parsed.text;
            answer.pid = parsed.pid;
          } catch {
            // not the app's JSON: the status says what it was
          }
          if (answer.status === 200) this.answers.push(answer);
          else this.failures.push({ at: answer.at, what: `status ${answer.status}: ${body.slice(0, 100)}` });
          resolve();
        });
      });
      request.setTimeout(15000, () => request.destroy(new Error('timed out after 15 s')));
      request.on('error', (error: NodeJS.ErrnoException) => this.fail(error.code ?? error.message, resolve));
    });
  }

  private fail(what: string, resolve: () => void): void {
    this.failures.push({ at: Date.now(), what });
    resolve();
  }
}
