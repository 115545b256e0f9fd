// Debian's Chromium, driven by playwright-core: the browser side of the e2e tests, npm start's check, the
// screenshots and the icon.

export const CHROMIUM = '/usr/bin/chromium';

/** The Chromium launch options that work on these machines (see the notes). */
export function chromiumLaunchOptions(extra = {}) {
  return {
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--disable-dev-shm-usage',
      '--disable-breakpad',
    ],
    viewport: { width: 1400, height: 900 },
    ...extra,
  };
}
