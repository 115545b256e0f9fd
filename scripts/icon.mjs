#!/usr/bin/env node
// Renders media/icon.svg to media/icon.png (128x128, transparent corners), the extension's marketplace icon,
// with the Chromium that the e2e tests use (no image tool to install). Run after changing the SVG:
//   node scripts/icon.mjs
import * as fs from 'node:fs';
import * as path from 'node:path';
import { chromium } from 'playwright-core';
import { chromiumLaunchOptions } from './lib/chromium.mjs';
import { repoRoot } from './lib/paths.mjs';

const SIZE = 128;
const svg = fs.readFileSync(path.join(repoRoot, 'media', 'icon.svg'), 'utf8');
const target = path.join(repoRoot, 'media', 'icon.png');

const browser = await chromium.launch(chromiumLaunchOptions());
try {
  const page = await browser.newPage({ viewport: { width: SIZE, height: SIZE } });
  await page.setContent(`<html><body style="margin:0;background:transparent">${svg}</body></html>`);
  await page.locator('svg').screenshot({ path: target, omitBackground: true });
} finally {
  await browser.close();
}
console.log(`[icon] ${path.relative(repoRoot, target)} (${fs.statSync(target).size} bytes)`);
