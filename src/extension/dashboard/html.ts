/**
 * The dashboard page's HTML: a Content-Security-Policy that lets in only the page's own script (by nonce) and style
 * (from the extension), no network at all; the page's words; the state to start from.
 */
import { randomBytes } from 'node:crypto';
import * as vscode from 'vscode';
import type { PageState } from '../../../webview/dashboard/protocol';
import { pageStrings } from './pageStrings';

/** Where the page's files are (scripts/build.mjs bundles them there). */
export function pageRoot(extensionUri: vscode.Uri): vscode.Uri {
  return vscode.Uri.joinPath(extensionUri, 'dist', 'webview');
}

export function dashboardHtml(webview: vscode.Webview, extensionUri: vscode.Uri, state: PageState): string {
  const nonce = randomBytes(18).toString('base64');
  const root = pageRoot(extensionUri);
  const script = webview.asWebviewUri(vscode.Uri.joinPath(root, 'dashboard.js'));
  const style = webview.asWebviewUri(vscode.Uri.joinPath(root, 'dashboard.css'));
  const csp = [`default-src 'none'`, `style-src ${webview.cspSource}`, `script-src 'nonce-${nonce}'`, `img-src ${webview.cspSource}`, `font-src ${webview.cspSource}`].join('; ');
  return `<!DOCTYPE html>
<html lang="${escapeHtml(vscode.env.language)}">
<head>
<meta charset="UTF-8">
<meta http-equiv="Content-Security-Policy" content="${csp}">
<meta name="viewport" content="width=device-width, initial-scale=1.0">
<link rel="stylesheet" href="${style.toString()}">
<title>${escapeHtml(state.serverName)}</title>
</head>
<body data-state="${escapeHtml(JSON.stringify(state))}">
<div id="dashboard"></div>
<script type="application/json" id="strings">${scriptJson(pageStrings())}</script>
<script nonce="${nonce}" src="${script.toString()}"></script>
</body>
</html>`;
}

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
}

/** JSON inside a script element: no "</script>" can end it early. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/</g, '\\u003c');
}
