// A stand-in for the `vscode` module, for extension code that the benchmark runs in plain Node:
// - src/extension/outputChannels.ts (the real batching that feeds the output channels), bundled by scripts/bench.mjs;
// - dist/extension.js (require + activate, the plain-Node approximation of the activation time; and a server of many
//   idle workers run through its task provider, with its tree rendered as VS Code renders it: the host's CPU).
// Output channels go to the sink that the benchmark installs with setOutputSink(); a few APIs behave for real
// (EventEmitter, Disposable, l10n.t, configuration defaults); anything else is an inert stub that can be called,
// constructed, subclassed and read from, so new API uses in the extension do not break the benchmark.
'use strict';

let outputSink = {
  append() {},
  replace() {},
};

/** `sink.append(name, text)` / `sink.replace(name, text)` receive what the extension gives its output channels. */
function setOutputSink(sink) {
  outputSink = sink;
}

const cache = new Map();
/** An inert stub: callable, constructible, subclassable; every property is another stub. */
function stub(name) {
  if (cache.has(name)) return cache.get(name);
  const target = function () {};
  const proxy = new Proxy(target, {
    get(t, prop) {
      if (prop === 'prototype') return t.prototype;
      if (prop === 'then') return undefined; // not a promise
      if (prop === Symbol.toPrimitive) return () => name;
      if (prop === Symbol.iterator) return undefined;
      if (typeof prop === 'symbol') return undefined;
      if (prop in t && prop !== 'name' && prop !== 'length') return t[prop];
      return stub(`${name}.${prop}`);
    },
    set(t, prop, value) {
      t[prop] = value;
      return true;
    },
    apply() {
      return stub(`${name}()`);
    },
    construct(_t, _args, newTarget) {
      return stubObject(Reflect.construct(Object, [], newTarget), `new ${name}`);
    },
  });
  cache.set(name, proxy);
  return proxy;
}

/** An object whose own and inherited members are real, and whose unknown members are stubs. */
function stubObject(object, name) {
  return new Proxy(object, {
    get(t, prop, receiver) {
      if (prop in t || typeof prop === 'symbol' || prop === 'then' || prop === 'toJSON') return Reflect.get(t, prop, receiver);
      return stub(`${name}.${prop}`);
    },
  });
}

class Disposable {
  constructor(callOnDispose) {
    this.callOnDispose = callOnDispose;
  }
  static from(...disposables) {
    return new Disposable(() => disposables.forEach((d) => d?.dispose?.()));
  }
  dispose() {
    this.callOnDispose?.();
  }
}

class EventEmitter {
  constructor() {
    this.listeners = new Set();
    this.event = (listener, thisArg, disposables) => {
      const bound = thisArg ? listener.bind(thisArg) : listener;
      this.listeners.add(bound);
      const disposable = new Disposable(() => this.listeners.delete(bound));
      if (Array.isArray(disposables)) disposables.push(disposable);
      return disposable;
    };
  }
  fire(value) {
    for (const listener of [...this.listeners]) listener(value);
  }
  dispose() {
    this.listeners.clear();
  }
}

function createOutputChannel(name) {
  return stubObject(
    {
      name,
      append: (text) => outputSink.append(name, text),
      appendLine: (text) => outputSink.append(name, `${text}\n`),
      replace: (text) => outputSink.replace(name, text),
      clear() {},
      show() {},
      hide() {},
      dispose() {},
    },
    `OutputChannel(${name})`,
  );
}

function t(message, ...args) {
  const values = args.length === 1 && typeof args[0] === 'object' && args[0] !== null ? args[0] : args;
  return String(typeof message === 'object' ? message.message : message).replace(/\{(\w+)\}/g, (m, key) => (key in values ? String(values[key]) : m));
}

/** What the benchmark drives of the extension: its task providers, and how often its tree was rendered. */
const bench = { taskProviders: new Map(), treeItemsRendered: 0 };

/**
 * A tree view that renders as VS Code's does: on each change event, the changed nodes (or the whole tree) are asked
 * for their tree items, and expanded nodes for their children and theirs.
 */
function createTreeView(_id, options) {
  const provider = options?.treeDataProvider;
  const render = (node) => {
    const item = provider.getTreeItem(node);
    bench.treeItemsRendered++;
    if (item?.collapsibleState === 2) for (const child of provider.getChildren(node) ?? []) render(child);
  };
  const subscription = provider?.onDidChangeTreeData?.((changed) => {
    const nodes = changed === undefined ? provider.getChildren(undefined) ?? [] : Array.isArray(changed) ? changed : [changed];
    for (const node of nodes) render(node);
  });
  return stubObject({ visible: true, dispose: () => subscription?.dispose(), reveal: async () => undefined }, 'TreeView');
}

// The tree's items, as real as the tree's rendering needs them.
const TreeItemCollapsibleState = { None: 0, Collapsed: 1, Expanded: 2 };

class TreeItem {
  constructor(label, collapsibleState = TreeItemCollapsibleState.None) {
    this.label = label;
    this.collapsibleState = collapsibleState;
  }
}

class ThemeColor {
  constructor(id) {
    this.id = id;
  }
}

class ThemeIcon {
  constructor(id, color) {
    this.id = id;
    this.color = color;
  }
}

class MarkdownString {
  constructor(value = '') {
    this.value = value;
  }
  appendText(text) {
    this.value += text;
    return this;
  }
  appendMarkdown(text) {
    this.value += text;
    return this;
  }
  appendCodeblock(code, language = '') {
    this.value += `\n\`\`\`${language}\n${code}\n\`\`\`\n`;
    return this;
  }
}

class CustomExecution {
  constructor(callback) {
    this.callback = callback;
  }
}

class Task {
  constructor(definition, scope, name, source, execution, problemMatchers) {
    Object.assign(this, { definition, scope, name, source, execution, problemMatchers });
  }
}

function registerTaskProvider(type, provider) {
  bench.taskProviders.set(type, provider);
  return new Disposable(() => bench.taskProviders.delete(type));
}

function createStatusBarItem() {
  return stubObject({ show() {}, hide() {}, dispose() {} }, 'StatusBarItem');
}

const api = {
  version: '1.100.0',
  Disposable,
  EventEmitter,
  CustomExecution,
  Task,
  TreeItem,
  TreeItemCollapsibleState,
  ThemeColor,
  ThemeIcon,
  MarkdownString,
  l10n: stubObject({ t }, 'vscode.l10n'),
  window: stubObject({ createOutputChannel, createTreeView, createStatusBarItem, visibleTextEditors: [], terminals: [] }, 'vscode.window'),
  workspace: stubObject(
    {
      getConfiguration: () => stubObject({ get: (_key, fallback) => fallback, has: () => false, inspect: () => undefined, update: async () => undefined }, 'configuration'),
      workspaceFolders: undefined,
      getWorkspaceFolder: () => undefined,
      findFiles: async () => [],
      textDocuments: [],
    },
    'vscode.workspace',
  ),
  extensions: stubObject({ getExtension: () => undefined, all: [] }, 'vscode.extensions'),
  tasks: stubObject({ taskExecutions: [], fetchTasks: async () => [], registerTaskProvider }, 'vscode.tasks'),
};

// Every other top-level name of the API (namespaces, classes, enums) as an inert stub: the bundle's
// `import * as vscode` copies only own properties, so each name must exist.
const declarations = require('node:fs').readFileSync(require.resolve('@types/vscode/index.d.ts'), 'utf8');
for (const [, name] of declarations.matchAll(/^\texport (?:namespace|class|enum|const|let|function) (\w+)/gm)) {
  if (!(name in api)) api[name] = stub(`vscode.${name}`);
}

module.exports = { ...api, setOutputSink, stubObject, bench };
