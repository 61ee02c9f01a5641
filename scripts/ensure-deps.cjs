#!/usr/bin/env node
'use strict';
// Runs before `npm start` and `npm test`: on a fresh clone (or after package-lock.json changed)
// it installs exactly what the lock file names, so the quick start stays two commands.
// With --browser (before `npm test`) it also makes sure Debian's Chromium is there for the
// browser test, which playwright-core drives without downloading a browser of its own.
const { existsSync, statSync } = require('node:fs');
const { execSync } = require('node:child_process');
const { join } = require('node:path');

const root = join(__dirname, '..');
const lock = join(root, 'package-lock.json');
const installed = join(root, 'node_modules', '.package-lock.json');

const stale = !existsSync(installed) || statSync(installed).mtimeMs < statSync(lock).mtimeMs;
if (stale) {
  console.log('Installing dependencies (npm ci)…');
  execSync('npm ci --no-audit --no-fund', { cwd: root, stdio: 'inherit' });
}

if (process.argv.includes('--browser')) {
  const chromium = process.env.CHROMIUM_PATH || '/usr/bin/chromium';
  if (!existsSync(chromium)) {
    const canInstall = process.getuid?.() === 0 && existsSync('/usr/bin/apt-get');
    if (!canInstall) {
      console.error(`The browser test needs Chromium at ${chromium}. Install Debian's chromium package (apt-get install chromium) or set CHROMIUM_PATH.`);
      process.exit(1);
    }
    console.log('Installing Debian chromium for the browser test (apt-get)…');
    execSync('apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium', {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  }
}
