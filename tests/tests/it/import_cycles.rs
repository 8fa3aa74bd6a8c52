//! No module imports one that imports it back, directly or through a ring (issue 15).
//!
//! Every library crate of the workspace is read as tokens: a module is a file (`mod.rs` is its
//! folder's module, `lib.rs` the crate root), and module A depends on module B when a path in A
//! names B or an item of B: `crate::b::…`, `super::…`, `self::…` or a child module by its bare
//! name, in a `use` or anywhere else (macro arguments included). A name reached through a
//! `use` is followed to the module that defines it, so a facade does not hide or invent an
//! edge. A module's use of its own children is not counted: a parent owns them (it declares,
//! re-exports and calls them), and their `super::` is the import. Inline modules
//! (`mod tests { … }`) belong to their file; comments and string literals are not read. Binaries (`main.rs`, `src/bin/`) are left out: they reach their library by its
//! crate name, never through `crate::`.
//!
//! The test fails on any strongly connected set of two modules or more that is not listed,
//! exactly, in [`KNOWN_CYCLES`], and on any listed set that is gone, so that the list only ever
//! shrinks.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use proc_macro2::{Delimiter, Spacing, TokenStream, TokenTree};

/// Cycles tolerated for a while, each with the work that removes it; empty, and meant to stay
/// so. Each entry is a crate's source folder and the exact set of modules in one cycle.
const KNOWN_CYCLES: &[(&str, &[&str])] = &[];

/// A module's path inside its crate: `[]` is the root, `["tls", "probe"]` is `tls/probe.rs`.
type ModulePath = Vec<String>;

#[test]
fn no_module_imports_one_that_imports_it_back() {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace");
    let mut found = BTreeSet::new();
    for src in crate_sources(workspace) {
        let label = src
            .strip_prefix(workspace)
            .expect("a crate's src folder is inside the workspace")
            .display()
            .to_string();
        let graph = Crate::read(&src).edges();
        for cycle in cycles(&graph) {
            let names = cycle.iter().map(display).collect::<BTreeSet<_>>();
            found.insert((label.clone(), names));
        }
    }
    let known = KNOWN_CYCLES
        .iter()
        .map(|(src, modules)| {
            (
                src.to_string(),
                modules
                    .iter()
                    .map(|m| m.to_string())
                    .collect::<BTreeSet<_>>(),
            )
        })
        .collect::<BTreeSet<_>>();
    let new = found.difference(&known).collect::<Vec<_>>();
    let gone = known.difference(&found).collect::<Vec<_>>();
    assert!(
        new.is_empty(),
        "import cycles (crate source, modules in one ring): {new:#?}"
    );
    assert!(
        gone.is_empty(),
        "cycles no longer there, remove them from KNOWN_CYCLES: {gone:#?}"
    );
}

/// The scanner itself, on a crate written for it: the cycles it must see and the edges it must
/// not invent.
#[test]
fn the_scanner_sees_cycles_through_every_kind_of_path() {
    let dir = tempfile::tempdir().expect("a scratch folder");
    let files = [
        (
            "lib.rs",
            "pub mod a; pub mod b; pub mod c; pub mod d; pub mod e; pub use d::Thing;",
        ),
        // a -> b through a grouped use, b -> a through a path in a macro's arguments.
        (
            "a.rs",
            "use crate::{b::{Beta}, c};\n// crate::e::Nothing in a comment\n",
        ),
        (
            "b.rs",
            "pub struct Beta; fn f() { assert!(crate::a::g()); }",
        ),
        // c -> d through the root's re-export; d -> c only from a string: no cycle.
        ("c.rs", "fn f() -> crate::Thing { todo!() }"),
        ("d.rs", "pub struct Thing; const S: &str = \"crate::c::x\";"),
        // A parent calling its child, which uses the parent's type: ownership, no cycle. The
        // two children reach each other through `super::`: a cycle.
        (
            "e/mod.rs",
            "mod inner; mod other; pub struct Shared; fn f() { inner::g() }",
        ),
        (
            "e/inner.rs",
            "use super::Shared; pub fn g() { super::other::h() } mod t { use super::*; }",
        ),
        ("e/other.rs", "use super::{inner::g}; pub fn h() {}"),
    ];
    for (path, text) in files {
        let path = dir.path().join(path);
        fs::create_dir_all(path.parent().expect("a file has a folder")).expect("create folder");
        fs::write(path, text).expect("write a source file");
    }
    let graph = Crate::read(dir.path()).edges();
    let rings = cycles(&graph)
        .into_iter()
        .map(|ring| ring.iter().map(display).collect::<Vec<_>>())
        .collect::<Vec<_>>();
    assert_eq!(rings, [vec!["a", "b"], vec!["e::inner", "e::other"]]);
    assert!(graph[&path("e::inner")].contains(&path("e")), "{graph:?}");
    assert!(graph[&path("c")].contains(&path("d")), "{graph:?}");
    assert!(
        !graph[&path("a")].contains(&path("e")),
        "a comment is no edge: {graph:?}"
    );
}

fn path(text: &str) -> ModulePath {
    text.split("::")
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

fn display(module: &ModulePath) -> String {
    if module.is_empty() {
        "crate".to_string()
    } else {
        module.join("::")
    }
}

/// The `src` folder of every workspace member that has a library.
fn crate_sources(workspace: &Path) -> Vec<PathBuf> {
    let manifest = fs::read_to_string(workspace.join("Cargo.toml")).expect("read Cargo.toml");
    // The `members = [ … ]` array, on one line or several.
    let start = manifest
        .find("members")
        .expect("the workspace lists its members");
    let end = start
        + manifest[start..]
            .find(']')
            .expect("the members array is closed");
    let members = &manifest[start..end];
    let sources = members
        .split('"')
        .skip(1)
        .step_by(2)
        .map(|member| workspace.join(member).join("src"))
        .filter(|src| src.join("lib.rs").is_file())
        .collect::<Vec<_>>();
    assert!(
        sources.len() >= 5,
        "workspace members with a library: {sources:?}"
    );
    sources
}

/// One library crate: each file module's tokens and the names it defines and re-exports.
struct Crate {
    modules: BTreeMap<ModulePath, TokenStream>,
    /// Names defined by an item at the top of the module (struct, fn, inline mod, …).
    defined: BTreeMap<ModulePath, BTreeSet<String>>,
    /// `use` of a module: the name it binds and the full path it stands for. Private ones too:
    /// the module's descendants may name them.
    imported: BTreeMap<ModulePath, Vec<(String, ModulePath)>>,
    /// `use path::*` of a module.
    globs: BTreeMap<ModulePath, Vec<ModulePath>>,
}

impl Crate {
    fn read(src: &Path) -> Crate {
        let mut modules = BTreeMap::new();
        for file in rust_files(src) {
            let relative = file.strip_prefix(src).expect("found under src");
            let mut module = relative
                .with_extension("")
                .iter()
                .map(|part| part.to_string_lossy().into_owned())
                .collect::<Vec<_>>();
            if module.first().map(String::as_str) == Some("bin") {
                continue;
            }
            if matches!(module.last().map(String::as_str), Some("mod")) {
                module.pop();
            }
            if module == ["main"] {
                continue;
            }
            if module == ["lib"] {
                module.clear();
            }
            let text = fs::read_to_string(&file).expect("read a source file");
            let tokens = TokenStream::from_str(&text)
                .unwrap_or_else(|error| panic!("{} does not lex: {error}", file.display()));
            modules.insert(module, tokens);
        }
        let mut krate = Crate {
            modules,
            defined: BTreeMap::new(),
            imported: BTreeMap::new(),
            globs: BTreeMap::new(),
        };
        let names = krate
            .modules
            .iter()
            .map(|(module, tokens)| (module.clone(), tokens.clone()))
            .collect::<Vec<_>>();
        for (module, tokens) in names {
            krate.read_items(&module, tokens);
        }
        krate
    }

    /// Records what a module defines and what its `use` statements bind.
    fn read_items(&mut self, module: &ModulePath, tokens: TokenStream) {
        let tokens = tokens.into_iter().collect::<Vec<_>>();
        for (i, token) in tokens.iter().enumerate() {
            let TokenTree::Ident(ident) = token else {
                continue;
            };
            let keyword = ident.to_string();
            let next = tokens.get(i + 1);
            match (keyword.as_str(), next) {
                (
                    "struct" | "enum" | "union" | "trait" | "type" | "fn" | "const" | "static"
                    | "mod",
                    Some(TokenTree::Ident(name)),
                ) => {
                    self.defined
                        .entry(module.clone())
                        .or_default()
                        .insert(name.to_string());
                }
                ("use", _) => {
                    let (_, paths) = use_statement(&tokens, i);
                    for (full, alias) in paths {
                        let full = self.absolute(module, &full);
                        match alias {
                            Some(name) => self
                                .imported
                                .entry(module.clone())
                                .or_default()
                                .push((name, full)),
                            None => self.globs.entry(module.clone()).or_default().push(full),
                        }
                    }
                }
                _ => {}
            }
        }
    }

    /// A path as written in `module` (`crate::…`, `super::…`, `self::…` or a child's name)
    /// made absolute.
    fn absolute(&self, module: &ModulePath, written: &[String]) -> ModulePath {
        let mut base = module.clone();
        let mut rest = written;
        match written.first().map(String::as_str) {
            Some("crate") => {
                base.clear();
                rest = &written[1..];
            }
            Some("self") => rest = &written[1..],
            Some("super") => {
                while rest.first().map(String::as_str) == Some("super") {
                    base.pop();
                    rest = &rest[1..];
                }
            }
            _ => {}
        }
        base.extend(rest.iter().cloned());
        base
    }

    /// The file module that defines what an absolute path names, following re-exports.
    fn owner(&self, full: &ModulePath, depth: usize) -> ModulePath {
        let module = (0..=full.len())
            .rev()
            .map(|n| full[..n].to_vec())
            .find(|prefix| self.modules.contains_key(prefix))
            .unwrap_or_default();
        let Some(name) = full.get(module.len()) else {
            return module;
        };
        if depth > 8
            || self
                .defined
                .get(&module)
                .is_some_and(|names| names.contains(name))
        {
            return module;
        }
        let rest = &full[module.len() + 1..];
        for (bound, target) in self.imported.get(&module).into_iter().flatten() {
            if bound == name {
                let mut target = target.clone();
                target.extend(rest.iter().cloned());
                return self.owner(&target, depth + 1);
            }
        }
        for glob in self.globs.get(&module).into_iter().flatten() {
            let inner = self.owner(glob, depth + 1);
            if self
                .defined
                .get(&inner)
                .is_some_and(|names| names.contains(name))
            {
                return inner;
            }
        }
        module
    }

    /// Module → the other modules it depends on.
    fn edges(&self) -> BTreeMap<ModulePath, BTreeSet<ModulePath>> {
        let mut graph = BTreeMap::new();
        for (module, tokens) in &self.modules {
            let mut written = Vec::new();
            let children = self.children(module);
            paths_in(tokens.clone(), &mut Vec::new(), &children, &mut written);
            let targets = graph.entry(module.clone()).or_insert_with(BTreeSet::new);
            for (inline, path) in written {
                let mut at = module.clone();
                at.extend(inline);
                let owner = self.owner(&self.absolute(&at, &path), 0);
                // A parent owns its children: declaring, re-exporting and calling them is how
                // a folder module works, not an import back.
                if !owner.starts_with(module) {
                    targets.insert(owner);
                }
            }
        }
        graph
    }

    /// The names of a module's file children, which its code may name without a prefix.
    fn children(&self, module: &ModulePath) -> BTreeSet<String> {
        self.modules
            .keys()
            .filter(|m| m.len() == module.len() + 1 && m.starts_with(module))
            .filter_map(|m| m.last().cloned())
            .collect()
    }
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    let mut entries = fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("read {}: {error}", dir.display()))
        .map(|entry| entry.expect("a folder entry").path())
        .collect::<Vec<_>>();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            files.push(path);
        }
    }
    files
}

fn is_path_separator(tokens: &[TokenTree], i: usize) -> bool {
    matches!(
        (tokens.get(i), tokens.get(i + 1)),
        (Some(TokenTree::Punct(a)), Some(TokenTree::Punct(b)))
            if a.as_char() == ':' && a.spacing() == Spacing::Joint && b.as_char() == ':'
    )
}

/// Every module-relative path written in `tokens`, each with the inline modules it sits in.
fn paths_in(
    tokens: TokenStream,
    inline: &mut Vec<String>,
    children: &BTreeSet<String>,
    out: &mut Vec<(Vec<String>, Vec<String>)>,
) {
    let tokens = tokens.into_iter().collect::<Vec<_>>();
    let mut i = 0;
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Ident(word) if word == "mod" => {
                if let (Some(TokenTree::Ident(name)), Some(TokenTree::Group(body))) =
                    (tokens.get(i + 1), tokens.get(i + 2))
                {
                    inline.push(name.to_string());
                    // An inline module's own children are not the file's children.
                    paths_in(body.stream(), inline, &BTreeSet::new(), out);
                    inline.pop();
                    i += 3;
                    continue;
                }
            }
            TokenTree::Ident(word) if word == "use" => {
                let (end, paths) = use_statement(&tokens, i);
                for (path, _) in paths {
                    if is_relative(&path, inline, children) {
                        out.push((inline.clone(), path));
                    }
                }
                i = end + 1;
                continue;
            }
            TokenTree::Ident(word) => {
                let after_separator = i >= 2 && is_path_separator(&tokens, i - 2);
                let after_dollar = matches!(
                    i.checked_sub(1).and_then(|j| tokens.get(j)),
                    Some(TokenTree::Punct(p)) if p.as_char() == '$'
                );
                if !after_separator && !after_dollar && is_path_separator(&tokens, i + 1) {
                    let mut path = vec![word.to_string()];
                    let mut j = i + 1;
                    while is_path_separator(&tokens, j) {
                        let Some(TokenTree::Ident(segment)) = tokens.get(j + 2) else {
                            break;
                        };
                        path.push(segment.to_string());
                        j += 3;
                    }
                    if is_relative(&path, inline, children) {
                        out.push((inline.clone(), path));
                    }
                    i = j;
                    continue;
                }
            }
            TokenTree::Group(group) => paths_in(group.stream(), inline, children, out),
            _ => {}
        }
        i += 1;
    }
}

/// A path that names a module of this crate: `crate::…`, `super::…`, `self::…`, or a file
/// child of the module by its bare name (outside inline modules, which have no file children).
fn is_relative(path: &[String], inline: &[String], children: &BTreeSet<String>) -> bool {
    match path.first().map(String::as_str) {
        Some("crate" | "super" | "self") => true,
        Some(first) => inline.is_empty() && children.contains(first),
        None => false,
    }
}

/// The `use` statement whose keyword is at `at`: where its `;` is, and its paths.
fn use_statement(tokens: &[TokenTree], at: usize) -> (usize, UsePaths) {
    let end = tokens[at..]
        .iter()
        .position(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ';'))
        .map_or(tokens.len(), |n| at + n);
    let mut paths = Vec::new();
    use_tree(&tokens[at + 1..end], Vec::new(), &mut paths);
    (end, paths)
}

/// Each full path of a `use`, with the name it binds (`None` for a glob).
type UsePaths = Vec<(Vec<String>, Option<String>)>;

/// The paths of a `use` tree (after `use`): each full path, with the name it binds
/// (`None` for a glob).
fn use_tree(tokens: &[TokenTree], prefix: Vec<String>, out: &mut UsePaths) {
    let mut path = prefix;
    let mut i = 0;
    // A leading `::` (an extern crate path) is skipped; such paths never start with `crate`.
    while i < tokens.len() {
        match &tokens[i] {
            TokenTree::Ident(word) if word == "as" => {
                if let Some(TokenTree::Ident(alias)) = tokens.get(i + 1) {
                    let alias = alias.to_string();
                    if alias != "_" {
                        out.push((path.clone(), Some(alias)));
                    }
                }
                return;
            }
            TokenTree::Ident(word) => path.push(word.to_string()),
            TokenTree::Punct(p) if p.as_char() == '*' => {
                out.push((path, None));
                return;
            }
            TokenTree::Group(group) if group.delimiter() == Delimiter::Brace => {
                let inner = group.stream().into_iter().collect::<Vec<_>>();
                for branch in
                    inner.split(|t| matches!(t, TokenTree::Punct(p) if p.as_char() == ','))
                {
                    if !branch.is_empty() {
                        use_tree(branch, path.clone(), out);
                    }
                }
                return;
            }
            _ => {}
        }
        i += 1;
    }
    // `use a::b::{self}` binds `b`; `use a::b` binds `b`.
    if path.last().map(String::as_str) == Some("self") {
        path.pop();
    }
    if let Some(name) = path.last().cloned() {
        out.push((path, Some(name)));
    }
}

/// Sets of two modules or more that reach each other (Tarjan's strongly connected components),
/// each sorted, in a stable order.
fn cycles(graph: &BTreeMap<ModulePath, BTreeSet<ModulePath>>) -> Vec<Vec<ModulePath>> {
    struct Walk<'a> {
        graph: &'a BTreeMap<ModulePath, BTreeSet<ModulePath>>,
        index: BTreeMap<&'a ModulePath, usize>,
        low: BTreeMap<&'a ModulePath, usize>,
        stack: Vec<&'a ModulePath>,
        on_stack: BTreeSet<&'a ModulePath>,
        found: Vec<Vec<ModulePath>>,
    }
    impl<'a> Walk<'a> {
        fn visit(&mut self, node: &'a ModulePath) {
            let n = self.index.len();
            self.index.insert(node, n);
            self.low.insert(node, n);
            self.stack.push(node);
            self.on_stack.insert(node);
            for next in self.graph.get(node).into_iter().flatten() {
                let Some((next, _)) = self.graph.get_key_value(next) else {
                    continue;
                };
                if !self.index.contains_key(next) {
                    self.visit(next);
                    let low = self.low[node].min(self.low[next]);
                    self.low.insert(node, low);
                } else if self.on_stack.contains(next) {
                    let low = self.low[node].min(self.index[next]);
                    self.low.insert(node, low);
                }
            }
            if self.low[node] == self.index[node] {
                let mut component = Vec::new();
                while let Some(top) = self.stack.pop() {
                    self.on_stack.remove(top);
                    component.push(top.clone());
                    if top == node {
                        break;
                    }
                }
                if component.len() > 1 {
                    component.sort();
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        found: Vec::new(),
    };
    for node in graph.keys() {
        if !walk.index.contains_key(node) {
            walk.visit(node);
        }
    }
    walk.found.sort();
    walk.found
}
