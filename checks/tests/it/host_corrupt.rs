//! Damaged package databases and indexes: each gives an error that names the file (and
//! the host probe records it as that part's error), never a panic or a silently shorter
//! inventory.

use std::path::{Path, PathBuf};

use chrono::{TimeZone, Utc};
use vigie_checks::host;
use vigie_model::{Check, Status};

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("testdata/host")
        .join(rel)
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 22, 12, 0, 0).unwrap()
}

/// A copy of a fixture tree (symbolic links copied as links), to damage.
fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        let kind = entry.file_type().unwrap();
        if kind.is_symlink() {
            std::os::unix::fs::symlink(std::fs::read_link(entry.path()).unwrap(), &target).unwrap();
        } else if kind.is_dir() {
            std::fs::create_dir(&target).unwrap();
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

fn damaged(
    fixture: &str,
    damage: impl FnOnce(&Path),
) -> (tempfile::TempDir, host::HostObservation) {
    let dir = tempfile::tempdir().unwrap();
    copy_tree(&testdata(fixture), dir.path());
    damage(dir.path());
    let obs = host::probe(dir.path(), now());
    (dir, obs)
}

fn truncate(path: &Path, keep: usize) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..keep.min(bytes.len())]).unwrap();
}

#[test]
fn truncated_dpkg_status() {
    // Cut inside a paragraph: the last line has no newline.
    let (_d, obs) = damaged("debian12", |root| {
        let status = root.join("var/lib/dpkg/status");
        let len = std::fs::metadata(&status).unwrap().len() as usize;
        truncate(&status, len / 2 + 7);
    });
    let err = &obs.errors["inventory"];
    assert!(
        err.contains("var/lib/dpkg/status") && err.contains("truncated"),
        "{err}"
    );
    assert!(obs.inventory.is_none());
    let v = vigie_grade::host::evaluate(&obs, now());
    let sec = v
        .iter()
        .find(|v| v.check == Check::HostUpdatesSecurity)
        .unwrap();
    assert_eq!(sec.status, Status::Error);
    assert!(sec
        .summary
        .render(vigie_model::Lang::En)
        .contains("dpkg/status"));
}

#[test]
fn dpkg_status_cut_between_fields() {
    // Cut at a line end, before the Version of an installed package.
    let (_d, obs) = damaged("debian12", |root| {
        let status = root.join("var/lib/dpkg/status");
        let text = std::fs::read_to_string(&status).unwrap();
        let cut = text.find("Architecture: amd64\nSource: glibc").unwrap();
        std::fs::write(&status, &text[..cut]).unwrap();
    });
    let err = &obs.errors["inventory"];
    assert!(
        err.contains("var/lib/dpkg/status") && err.contains("libc6"),
        "{err}"
    );
}

#[test]
fn binary_garbage_in_dpkg_status() {
    let (_d, obs) = damaged("debian12", |root| {
        std::fs::write(
            root.join("var/lib/dpkg/status"),
            b"Package: a\n\0\0\0\x01\n",
        )
        .unwrap();
    });
    assert!(obs.errors["inventory"].contains("var/lib/dpkg/status"));
}

#[test]
fn corrupt_apt_list() {
    let (_d, obs) = damaged("debian12", |root| {
        let list = root.join("var/lib/apt/lists/deb.debian.org_debian-security_dists_bookworm-security_main_binary-amd64_Packages.gz");
        truncate(&list, 40);
    });
    // The inventory is fine; the updates part fails naming the list.
    assert!(obs.inventory.is_some());
    let err = &obs.errors["updates"];
    assert!(
        err.contains("bookworm-security_main_binary-amd64_Packages.gz"),
        "{err}"
    );
}

#[test]
fn truncated_rpmdb_sqlite() {
    let (_d, obs) = damaged("rocky9", |root| {
        truncate(&root.join("var/lib/rpm/rpmdb.sqlite"), 5000);
    });
    let err = &obs.errors["inventory"];
    assert!(err.contains("var/lib/rpm/rpmdb.sqlite"), "{err}");
}

#[test]
fn not_sqlite_at_all() {
    let (_d, obs) = damaged("rocky9", |root| {
        std::fs::write(
            root.join("var/lib/rpm/rpmdb.sqlite"),
            "not a database, just text\n",
        )
        .unwrap();
    });
    assert!(obs.errors["inventory"].contains("rpmdb.sqlite"));
}

#[test]
fn damaged_rpm_header_blob_names_the_row() {
    let (_d, obs) = damaged("rocky9", |root| {
        let conn = rusqlite::Connection::open(root.join("var/lib/rpm/rpmdb.sqlite")).unwrap();
        conn.execute(
            "UPDATE Packages SET blob = substr(blob, 1, 64) WHERE hnum = (SELECT min(hnum) FROM Packages)",
            [],
        )
        .unwrap();
    });
    let err = &obs.errors["inventory"];
    assert!(
        err.contains("rpmdb.sqlite")
            && err.contains("package header #")
            && err.contains("truncated"),
        "{err}"
    );
}

#[test]
fn apk_database_without_versions() {
    let (_d, obs) = damaged("alpine319", |root| {
        let db = root.join("lib/apk/db/installed");
        let text = std::fs::read_to_string(&db).unwrap();
        std::fs::write(&db, text.replacen("V:1.36.1-r15\n", "", 1)).unwrap();
    });
    let err = &obs.errors["inventory"];
    assert!(
        err.contains("lib/apk/db/installed") && err.contains("V:"),
        "{err}"
    );
}

#[test]
fn truncated_apkindex() {
    let (_d, obs) = damaged("alpine319", |root| {
        truncate(&root.join("var/cache/apk/APKINDEX.6a7b8c9d.tar.gz"), 300);
    });
    assert!(obs.inventory.is_some());
    assert!(
        obs.errors["updates"].contains("APKINDEX.6a7b8c9d.tar.gz"),
        "{:?}",
        obs.errors
    );
}

#[test]
fn corrupt_dnf_metadata() {
    let (_d, obs) = damaged("rocky9", |root| {
        let dir = root.join("var/cache/dnf/baseos-0b1f2c3d4e5f6a7b/repodata");
        truncate(&dir.join("4d3e2f1a-primary.xml.gz"), 30);
    });
    assert!(
        obs.errors["updates"].contains("4d3e2f1a-primary.xml.gz"),
        "{:?}",
        obs.errors
    );
}
