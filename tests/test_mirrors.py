"""Mirrors from registries.conf(5), its drop-ins, daemon.json and a Session's list.

The configuration files are containers/image's own test data (tests/data/registries.conf/,
SOURCES.md names commit and paths); the expected values are ported from
``pkg/sysregistriesv2/system_registries_v2_test.go`` at the same commit, each table naming the Go
test it comes from. Cases marked "ociinspect" pin a documented choice of this module.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from ociinspect.distribution.mirrors import (
    MAX_CONFIG_BYTES,
    MAX_DROP_INS,
    BlockedRegistryError,
    ConfigLocations,
    ConfigPlan,
    Endpoint,
    Mirror,
    MirrorConfig,
    MirrorConfigError,
    endpoints,
    from_env,
    locations,
    logical_name,
    match_prefix,
    parse_daemon_json,
    parse_registries_conf,
    read_daemon_json,
    read_registries_conf,
    rewrite,
)
from ociinspect.errors import InvalidDocumentError, InvalidReferenceError, SizeLimitError

DATA = Path(__file__).parent / "data" / "registries.conf"
NOWHERE = str(DATA / "this-does-not-exist")
DIGEST = "@sha256:" + "a" * 64


def load(name: str, *drop_in_dirs: str) -> MirrorConfig:
    """What containers/image's tests get from SystemRegistriesConfPath/DirPath."""
    dirs = tuple(str(DATA / d) for d in drop_in_dirs) or (NOWHERE,)
    return read_registries_conf(ConfigPlan(str(DATA / name), True, dirs))


def names(found: list[Endpoint]) -> list[str]:
    return [e.name for e in found]


# -- prefix matching: TestRefMatchingPrefix, TestRefMatchingSubdomainPrefix ------------------

A64 = "sha256:" + "a" * 64
B64 = "sha256:" + "b" * 64
PREFIX_CASES = [
    # TestRefMatchingPrefix: a Domain() value
    ("docker.io", "docker.io", len("docker.io")),
    ("docker.io", "example.com", -1),
    ("example.com:5000", "example.com:5000", len("example.com:5000")),
    ("example.com:50000", "example.com:5000", -1),
    ("example.com:5000", "example.com", len("example.com")),  # upstream FIXME, kept
    ("example.com/foo", "example.com", len("example.com")),
    ("example.com/foo/bar", "example.com", len("example.com")),
    ("example.com/foo/bar:baz", "example.com", len("example.com")),
    (f"example.com/foo/bar@{A64}", "example.com", len("example.com")),
    # a Name() value or a namespace
    ("docker.io", "docker.io/library", -1),
    ("docker.io/library", "docker.io/library", len("docker.io/library")),
    ("example.com/library", "docker.io/library", -1),
    ("docker.io/libraryy", "docker.io/library", -1),
    ("docker.io/library/busybox", "docker.io/library", len("docker.io/library")),
    ("docker.io", "docker.io/library/busybox", -1),
    ("docker.io/library/busybox", "docker.io/library/busybox", len("docker.io/library/busybox")),
    ("example.com/library/busybox", "docker.io/library/busybox", -1),
    ("docker.io/library/busybox2", "docker.io/library/busybox", -1),
    # a single image
    ("example.com", "example.com/foo:bar", -1),
    ("example.com/foo", "example.com/foo:bar", -1),
    ("example.com/foo:bar", "example.com/foo:bar", len("example.com/foo:bar")),
    ("example.com/foo:bar2", "example.com/foo:bar", -1),
    ("example.com", f"example.com/foo@{A64}", -1),
    ("example.com/foo", f"example.com/foo@{A64}", -1),
    (f"example.com/foo@{A64}", f"example.com/foo@{A64}", len(f"example.com/foo@{A64}")),
    (f"example.com/foo@{B64}", f"example.com/foo@{A64}", -1),
    ("example.com/foo", "*", -1),
    # TestRefMatchingSubdomainPrefix
    ("docker.io", "*.io", len("docker.io")),
    ("docker.io/foo", "*.com", -1),
    ("example.com/foo", "*.co", -1),
    ("example.com/foo", "*.example.com", -1),
    ("example.com/foo", "*.com", len("example.com")),
    ("example.com/foo:bar", "*.com", len("example.com")),
    ("example.com/foo/bar:baz", "*.com", len("example.com")),
    ("yet.another.example.com/foo", "**.example.com", -1),
    ("yet.another.example.com/foo", "***.another.example.com", -1),
    ("yet.another.example.com/foo", "**********.another.example.com", -1),
    ("yet.another.example.com/foo/bar", "**********.another.example.com", -1),
    ("yet.another.example.com/foo/bar", "*.another.example.com", len("yet.another.example.com")),
    (
        "another.example.com/namespace.com/foo/bar/bbq:baz",
        "*.example.com",
        len("another.example.com"),
    ),
    ("example.net/namespace-ends-in.com/foo/bar/bbq:baz", "*.com", -1),
    ("another.example.com/namespace.com/foo/bar/bbq:baz", "*.namespace.com", -1),
    ("sub.example.com/foo/bar", "*.com", len("sub.example.com")),
    ("sub.example.com/foo/bar", "*.example.com", len("sub.example.com")),
    ("another.sub.example.com/foo/bar/bbq:baz", "*.example.com", len("another.sub.example.com")),
    (
        "another.sub.example.com/foo/bar/bbq:baz",
        "*.sub.example.com",
        len("another.sub.example.com"),
    ),
    (f"yet.another.example.com/foo/bar@{A64}", "*.example.com", len("yet.another.example.com")),
    (
        f"yet.another.sub.example.com/foo/bar@{A64}",
        "*.sub.example.com",
        len("yet.another.sub.example.com"),
    ),
]


@pytest.mark.parametrize(
    ("ref", "prefix", "expected"),
    PREFIX_CASES,
    ids=[f"{r[:40]} vs {p[:30]}" for r, p, _ in PREFIX_CASES],
)
def test_match_prefix(ref: str, prefix: str, expected: int) -> None:
    """A prefix matches whole components (then / : @) and *. matches subdomains only."""
    assert match_prefix(ref, prefix) == expected


# -- rewriting: TestRewriteReferenceSuccess, TestRewriteReferenceFailedDuringParseNamed --------

REWRITES = [
    ("example.com/image", "example.com", "example.com", "example.com/image"),
    ("example.com/image:latest", "example.com", "example.com", "example.com/image:latest"),
    ("example.com:5000/image", "example.com:5000", "example.com:5000", "example.com:5000/image"),
    (
        "example.com:5000/image:latest",
        "example.com:5000",
        "example.com:5000",
        "example.com:5000/image:latest",
    ),
    (f"example.com/foo@{A64}", "example.com", "example.com", f"example.com/foo@{A64}"),
    ("example.com/foo/image:latest", "example.com/foo", "example.com", "example.com/image:latest"),
    (
        "example.com/foo/image:latest",
        "example.com/foo",
        "example.com/path",
        "example.com/path/image:latest",
    ),
    ("docker.io/library/image:latest", "docker.io", "docker.io", "docker.io/library/image:latest"),
    ("docker.io/library/image", "docker.io/library", "example.com", "example.com/image"),
    ("docker.io/library/image", "docker.io", "example.com", "example.com/library/image"),
    (
        "docker.io/library/prefix/image",
        "docker.io/library/prefix",
        "example.com",
        "example.com/image",
    ),
    ("docker.io/namespace/image", "*.io", "example.com", "example.com/namespace/image"),
    ("docker.io/library/prefix/image", "*.io", "example.com", "example.com/library/prefix/image"),
    (
        "sub.example.io/library/prefix/image",
        "*.example.io",
        "example.com",
        "example.com/library/prefix/image",
    ),
    (
        "another.sub.example.io:5000/library/prefix/image:latest",
        "*.sub.example.io",
        "example.com",
        "example.com:5000/library/prefix/image:latest",
    ),
    (
        "foo.bar.io/ns1/ns2/ns3/ns4",
        "*.bar.io",
        "omg.bbq.com/roflmao",
        "omg.bbq.com/roflmao/ns1/ns2/ns3/ns4",
    ),
    (
        "abc.internal.registry.com/foo:bar",
        "*.internal.registry.com",
        "",
        "abc.internal.registry.com/foo:bar",
    ),
    ("blah.foo.bar.com/omg:bbq", "*.com", "", "blah.foo.bar.com/omg:bbq"),
    (
        "alien.vs.predator.foobar.io:5000/omg",
        "*.foobar.io",
        "",
        "alien.vs.predator.foobar.io:5000/omg",
    ),
    (
        f"alien.vs.predator.foobar.io:5000/foo@{A64}",
        "*.foobar.io",
        "",
        f"alien.vs.predator.foobar.io:5000/foo@{A64}",
    ),
    (
        "alien.vs.predator.foobar.io:5000/omg:bbq",
        "*.foobar.io",
        "",
        "alien.vs.predator.foobar.io:5000/omg:bbq",
    ),
]


@pytest.mark.parametrize(
    ("ref", "prefix", "location", "expected"),
    REWRITES,
    ids=[f"{r} -> {e}" for r, _, _, e in REWRITES],
)
def test_rewrite(ref: str, prefix: str, location: str, expected: str) -> None:
    """The matched prefix is replaced by the location; an empty location under *. keeps the name."""
    assert rewrite(ref, prefix, location) == expected


REWRITE_FAILURES = [
    ("example.com/foo/image:latest", "example.com/foo", "example.com/path/"),
    (f"example.com/foo@{A64}", "example.com/foo", "example.com"),
    ("example.com:5000/image:latest", "example.com", ""),
    ("example.com:5000/image:latest", "example.com", "example.com:5000"),
    ("example.com/foo/image:latest", "example.com//foo", "example.com/path"),
    ("example.com/image:latest", "image", "anotherimage"),
    ("example.com/foo/image:latest", "example.com/foo/", "example.com"),
    ("example.com/foo/image", "example.com/f", "example.com/foo"),
    ("example.com/foo:latest", "example.com/f", "example.com/foo"),
    (f"example.com/foo@{A64}", "example.com/f", "example.com/foo"),
    ("docker.io/library/image", "example.com", "example.com"),
    ("docker.io/library/image", "*.com", "example.com"),
    ("foo.docker.io/library/image", "*.example.com", "example.com/image"),
    ("foo.docker.io/library/image", "*.docker.com", "example.com/image"),
    ("docker.io/library/alpine", "docker.io/library", "docker.io"),  # ociinspect: not canonical
]


@pytest.mark.parametrize(
    ("ref", "prefix", "location"),
    REWRITE_FAILURES,
    ids=[f"{r} with {p!r} -> {loc!r}" for r, p, loc in REWRITE_FAILURES],
)
def test_rewrite_refuses(ref: str, prefix: str, location: str) -> None:
    """A prefix that does not match, or a result that is not a canonical name, is an error."""
    with pytest.raises(InvalidReferenceError):
        rewrite(ref, prefix, location)


# -- FindRegistry over a main file and drop-ins: TestFindRegistry ------------------------------

FIND = [
    ("simple-prefix.com/foo/bar:latest", "simple-prefix.com", "registry.com:5000"),
    ("simple-prefix.com/", "simple-prefix.com", "registry.com:5000"),
    ("simple-prefix.com", "simple-prefix.com", "registry.com:5000"),
    ("not.so.simple-prefix.com/", "*.so.simple-prefix.com", "subdomain-prefix.com"),
    ("not.quite.simple-prefix.com/", "*.simple-prefix.com", "subdomain-prefix-2.com"),
    (
        "not.quite.simple-prefix.com:5000/with/path/and/beyond:tag",
        "*.simple-prefix.com",
        "subdomain-prefix-2.com",
    ),
    (
        "really.not.quite.simple-prefix.com:5000/with/path/and/beyond:tag",
        "*.not.quite.simple-prefix.com",
        "subdomain-prefix-1-overridden-by-dropin-location.com",
    ),
    ("foo.docker.io:5000/omg/wtf/bbq:foo", "*.docker.io", "subdomain-prefix-2.com"),
    (
        f"foo.bar.example.com:6000/omg/wtf/bbq@{A64}",
        "*.bar.example.com",
        "subdomain-prefix-3-overridden-by-dropin-location.com",
    ),
    ("foo.bar.docker.io:5000/omg/wtf/bbq:foo", "*.bar.docker.io", "subdomain-prefix-4.com"),
    (
        "foo.bar.example.com:5000/omg/wtf/bbq:foo",
        "foo.bar.example.com:5000",
        "subdomain-prefix-5.com",
    ),
    ("simple-prefix.comx", None, None),
    (
        "complex-prefix.com:4000/with/path/and/beyond:tag",
        "complex-prefix.com:4000/with/path",
        "another-registry.com:5000",
    ),
    ("no-prefix.com/foo:tag", "no-prefix.com", "no-prefix.com"),
    ("empty-prefix.com/foo:tag", "empty-prefix.com", "empty-prefix.com"),
]


@pytest.fixture(scope="module")
def find_config() -> MirrorConfig:
    return load("find-registry.conf", "registries.conf.d")


def test_find_registry_count(find_config: MirrorConfig) -> None:
    """find-registry.conf plus registries.conf.d hold 19 tables (TestFindRegistry)."""
    assert len(find_config.registries) == 19


@pytest.mark.parametrize(("name", "prefix", "location"), FIND, ids=[f[0] for f in FIND])
def test_find_registry(
    find_config: MirrorConfig, name: str, prefix: str | None, location: str | None
) -> None:
    """The longest matching prefix wins; drop-ins replace tables of the same prefix."""
    entry = find_config.find(name)
    if prefix is None:
        assert entry is None
    else:
        assert entry is not None and (entry.prefix, entry.location) == (prefix, location)


# -- whole files: TestMirrors, TestUnmarshalConfig, TestInvalidateCache, TestEmptyConfig --------


def test_mirrors_conf() -> None:
    """mirrors.conf: two tables; registry.com has two mirrors, the second insecure (TestMirrors)."""
    config = load("mirrors.conf")
    assert len(config.registries) == 2
    entry = config.find("registry.com/image:tag")
    assert entry is not None
    assert entry.mirrors == (
        Mirror("mirror-1.registry.com", False),
        Mirror("mirror-2.registry.com", True),
    )


@pytest.mark.parametrize("name", ["unmarshal.conf", "invalidate-cache.conf"])
def test_four_tables_sorted_by_prefix(name: str) -> None:
    """Tables come out sorted by prefix (TestUnmarshalConfig, TestInvalidateCache)."""
    config = load(name)
    assert [e.location for e in config.registries] == [
        "blocked.registry.com",
        "insecure.registry.com",
        "registry.com",
        "untrusted.registry.com",
    ]


def test_empty_conf() -> None:
    """An empty file is an empty configuration (TestEmptyConfig)."""
    assert load("empty.conf") == MirrorConfig()


def test_missing_default_file_is_empty() -> None:
    """When no path was asked for, a missing registries.conf is no configuration, not an error."""
    plan = ConfigPlan(str(DATA / "this-does-not-exist.conf"), False, (NOWHERE,))
    assert read_registries_conf(plan) == MirrorConfig()


def test_unqualified_search() -> None:
    """The search list and the file that set it (TestFindUnqualifiedSearchRegistries)."""
    config = load("unqualified-search.conf")
    assert len(config.registries) == 4
    assert config.unqualified_search_registries == (
        "registry-a.com",
        "registry-c.com",
        "registry-d.com",
    )
    assert config.unqualified_search_origin == str(DATA / "unqualified-search.conf")


def test_v1_backwards_compatibility() -> None:
    """Version 1 lists become tables; block and insecure merge per location (TestV1...)."""
    config = load("v1-compatibility.conf")
    assert len(config.registries) == 4
    assert config.unqualified_search_registries == (
        "registry-a.com",
        "registry-c.com",
        "registry-d.com",
    )
    entry = config.find("registry-b.com/bar/foo/barfoo:latest")
    assert entry is not None and entry.insecure and entry.blocked


def test_ignored_keys_parse() -> None:
    """credential-helpers, short-name-mode and [aliases] are read past, not rejected."""
    assert [e.prefix for e in load("cred-helper.conf").registries] == [
        "registry-a.com",
        "registry-b.com",
        "registry-c.com",
    ]
    assert load("aliases.conf").registries == ()
    # ociinspect: aliases are not validated (upstream rejects this file's "image:1" values).
    assert load("invalid-aliases.conf") == MirrorConfig()


# -- drop-ins: TestRegistriesConfDirectory --------------------------------------------------


def test_drop_ins_override_by_prefix() -> None:
    """Drop-ins replace the search list and whole tables per prefix, in lexical order."""
    config = load("base-for-registries.d.conf", "registries.conf.d")
    assert config.unqualified_search_registries == ("example-overwrite.com",)
    assert config.unqualified_search_origin == str(DATA / "registries.conf.d" / "config-1.conf")
    assert [e.location for e in config.registries] == [
        "subdomain-prefix-3-overridden-by-dropin-location.com",
        "subdomain-prefix-2-overridden-by-dropin-location.com",
        "subdomain-prefix-1-overridden-by-dropin-location.com",
        "1.com",
        "2.com",
        "base.com",
    ]
    base = config.find("base.com/test:latest")
    assert base is not None and base.blocked
    assert not base.insecure  # the whole table was replaced, insecure = true went with it
    assert base.source == str(DATA / "registries.conf.d" / "config-2.conf")
    assert "ignore-me-because-i-have-a-wrong-suffix.com" not in [
        e.location for e in config.registries
    ]


@pytest.mark.parametrize(
    ("directory", "expected"),
    [
        ("registries.conf.d-usr1", ("registry-a.com", "registry-c.com", "registry-d.com")),
        ("registries.conf.d-usr2", ()),
    ],
    ids=["a drop-in without the key keeps it", "an empty array replaces it"],
)
def test_drop_in_search_list(directory: str, expected: tuple[str, ...]) -> None:
    """unqualified-search-registries changes only when a drop-in sets it (even to [])."""
    config = load("unqualified-search.conf", directory)
    assert config.unqualified_search_registries == expected


# -- errors: TestInvalidV2Configs, TestInvalidMirrorConfig, TestMixingV1andV2, TestV1... -------

INVALID = [
    (
        "insecure-conflicts.conf",
        "registry 'registry.com' is defined multiple times with conflicting 'insecure' setting",
    ),
    (
        "blocked-conflicts.conf",
        "registry 'registry.com' is defined multiple times with conflicting 'blocked' setting",
    ),
    ("missing-mirror-location.conf", "invalid condition: mirror location is unset"),
    ("invalid-prefix.conf", "invalid location"),
    ("this-does-not-exist.conf", "no such file or directory"),
    (
        "invalid-config-level-mirror.conf",
        'pull-from-mirror must not be set for a non-mirror registry "registry-a.com/foo"',
    ),
    (
        "invalid-conflict-mirror.conf",
        'cannot set mirror usage mirror-by-digest-only for the registry ("registry-a.com/foo") and '
        'pull-from-mirror for per-mirror ("mirror-1.registry-a.com") at the same time',
    ),
    (
        "invalid-value-mirror.conf",
        'unsupported pull-from-mirror value "notvalid" for mirror "mirror-1.registry-a.com"',
    ),
    ("mixing-v1-v2.conf", "mixing sysregistry v1/v2 is not supported"),
    ("mixing-v1-v2-empty.conf", "mixing sysregistry v1/v2 is not supported"),
    ("v1-invalid-block.conf", "URI schemes are not supported"),
    ("v1-invalid-insecure.conf", "URI schemes are not supported"),
    ("v1-invalid-search.conf", "URI schemes are not supported"),
    ("invalid-search.conf", "invalid unqualified-search-registries entry"),
]


@pytest.mark.parametrize(("name", "message"), INVALID, ids=[i[0] for i in INVALID])
def test_invalid_files(name: str, message: str) -> None:
    """Each broken file raises MirrorConfigError naming the file and upstream's reason."""
    with pytest.raises(MirrorConfigError) as caught:
        load(name)
    assert message in str(caught.value)
    assert str(DATA / name) in str(caught.value)
    assert isinstance(caught.value, InvalidDocumentError) and isinstance(caught.value, ValueError)


def test_conflict_error_names_the_line() -> None:
    """The conflicting table's line is named: the second [[registry]] of the file."""
    with pytest.raises(MirrorConfigError) as caught:
        load("insecure-conflicts.conf")
    assert caught.value.line == 11 and "insecure-conflicts.conf line 11" in str(caught.value)


def test_drop_ins_must_be_v2(tmp_path: Path) -> None:
    """A version 1 drop-in is refused (loadConfigFile(forceV2))."""
    (tmp_path / "old.conf").write_text('[registries.search]\nregistries = ["a.com"]\n')
    plan = ConfigPlan(str(DATA / "empty.conf"), True, (str(tmp_path),))
    with pytest.raises(MirrorConfigError, match="must be in v2 format"):
        read_registries_conf(plan)


BAD_TOML = [
    ("syntax", "[[registry]]\nlocation = \n", "line 2"),
    ("unclosed table", '[[registry]\nlocation = "a.com"\n', "line 1"),
    (
        "wrong type",
        '[[registry]]\nlocation = "a.com"\ninsecure = "yes"\n',
        "'insecure' must be true or false",
    ),
    ("location not a string", "[[registry]]\nlocation = 5\n", "'location' must be a string"),
    ("registry not tables", "registry = 5\n", "[[registry]] must be an array of tables"),
    ("mirror not tables", '[[registry]]\nlocation = "a.com"\nmirror = ["x"]\n', "array of tables"),
    (
        "no location, no prefix",
        "[[registry]]\ninsecure = true\n",
        "both location and prefix are unset",
    ),
    ("prefix without location", '[[registry]]\nprefix = "a.com"\n', "location is unset"),
    ("wildcard with a path", '[[registry]]\nprefix = "*.a.com/ns"\n', "*.example.com"),
    (
        "scheme in a mirror",
        '[[registry]]\nlocation = "a.com"\n[[registry.mirror]]\nlocation = "https://m"\n',
        "URI schemes",
    ),
    ("search list of numbers", "unqualified-search-registries = [1]\n", "list of strings"),
    ("deep nesting", "a = " + "[" * 50_000 + "]" * 50_000 + "\n", "not valid TOML"),
]


@pytest.mark.parametrize(
    ("text", "message"), [b[1:] for b in BAD_TOML], ids=[b[0] for b in BAD_TOML]
)
def test_bad_toml_is_a_typed_error(text: str, message: str) -> None:
    """Malformed TOML or wrong value types raise MirrorConfigError naming file (and line)."""
    with pytest.raises(MirrorConfigError) as caught:
        parse_registries_conf(text, "/etc/containers/registries.conf")
    assert message in str(caught.value)
    assert "/etc/containers/registries.conf" in str(caught.value)


def test_not_utf8_is_a_typed_error() -> None:
    """Bytes that are not UTF-8 are refused with the offset."""
    with pytest.raises(MirrorConfigError, match="not UTF-8"):
        parse_registries_conf(b'unqualified-search-registries = ["\xff"]', "f.conf")


def test_oversized_file_is_refused_before_parsing(tmp_path: Path) -> None:
    """A file over MAX_CONFIG_BYTES raises SizeLimitError without being parsed."""
    big = tmp_path / "registries.conf"
    big.write_bytes(b"#" * (MAX_CONFIG_BYTES + 1))
    with pytest.raises(SizeLimitError):
        read_registries_conf(ConfigPlan(str(big), True, ()))
    with pytest.raises(SizeLimitError):
        parse_registries_conf("#" * (MAX_CONFIG_BYTES + 1), "x")


def test_too_many_drop_ins(tmp_path: Path) -> None:
    """More than MAX_DROP_INS drop-in files raise SizeLimitError instead of reading them all."""
    for i in range(MAX_DROP_INS + 1):
        (tmp_path / f"{i:04}.conf").write_text("")
    with pytest.raises(SizeLimitError):
        read_registries_conf(ConfigPlan(str(DATA / "empty.conf"), True, (str(tmp_path),)))


def test_fifo_drop_in_is_refused_not_waited_on(tmp_path: Path) -> None:
    """A FIFO named *.conf in registries.conf.d is refused at once instead of blocking."""
    os.mkfifo(tmp_path / "trap.conf")
    with pytest.raises(MirrorConfigError, match="not a regular file"):
        read_registries_conf(ConfigPlan(str(DATA / "empty.conf"), True, (str(tmp_path),)))


def test_drop_in_directory_skips_subdirectories_and_other_suffixes(tmp_path: Path) -> None:
    """Only *.conf files directly in the directory are read, in lexical order."""
    (tmp_path / "nested.conf").mkdir()
    (tmp_path / "nested.conf" / "x.conf").write_text('[[registry]]\nlocation = "nested.com"\n')
    (tmp_path / "b.conf").write_text('unqualified-search-registries = ["b.com"]\n')
    (tmp_path / "a.conf").write_text('unqualified-search-registries = ["a.com"]\n')
    (tmp_path / "c.conf.bak").write_text('unqualified-search-registries = ["c.com"]\n')
    config = read_registries_conf(ConfigPlan(str(DATA / "empty.conf"), True, (str(tmp_path),)))
    assert config.unqualified_search_registries == ("b.com",)
    assert config.registries == ()


# -- endpoints: TestPullSourcesFromReference and the man page ----------------------------------

PULL_SOURCES = [
    # (prefix, digest locations, digest insecure, tag locations, tag insecure)
    (
        "registry-a.com/foo",
        ["mirror-1.registry-a.com", "mirror-2.registry-a.com", "registry-a.com/bar"],
        [False, True, False],
        ["mirror-1.registry-a.com", "mirror-2.registry-a.com", "registry-a.com/bar"],
        [False, True, False],
    ),
    (
        "registry-b.com/foo",
        ["mirror-1.registry-b.com", "mirror-2.registry-b.com", "registry-b.com/bar"],
        [False, False, False],
        ["registry-b.com/bar"],
        [False],
    ),
    (
        "registry-a.com/baz",
        ["mirror-1.registry-a.com", "mirror-2.registry-a.com", "registry-a.com/bar"],
        [False, True, False],
        ["mirror-1.registry-a.com", "mirror-2.registry-a.com", "registry-a.com/bar"],
        [False, True, False],
    ),
    (
        "registry-b.com/baz",
        ["mirror-1.registry-b.com", "mirror-2.registry-b.com", "registry-b.com/bar"],
        [False, False, False],
        ["registry-b.com/bar"],
        [False],
    ),
    (
        "registry-c.com/baz",
        ["mirror-1.registry-c.com", "mirror-2.registry-c.com", "registry-c.com/bar"],
        [False, False, False],
        ["mirror-1.registry-c.com", "registry-c.com/bar"],
        [False, False],
    ),
    (
        "registry-d.com/baz",
        ["mirror-1.registry-d.com", "mirror-2.registry-d.com", "registry-d.com/bar"],
        [False, False, False],
        ["registry-d.com/bar"],
        [False],
    ),
    (
        "registry-e.com/baz",
        ["registry-e.com/bar"],
        [False],
        ["mirror-1.registry-e.com", "mirror-2.registry-e.com", "registry-e.com/bar"],
        [False, False, False],
    ),
    (
        "registry-f.com/baz",
        ["mirror-1.registry-f.com", "registry-f.com/bar"],
        [False, False],
        ["mirror-1.registry-f.com", "mirror-2.registry-f.com", "registry-f.com/bar"],
        [False, False, False],
    ),
    (
        "registry-g.com/baz",
        [
            "mirror-1.registry-g.com",
            "mirror-3.registry-g.com",
            "mirror-4.registry-g.com",
            "registry-g.com/bar",
        ],
        [False, False, False, False],
        [
            "mirror-2.registry-g.com",
            "mirror-3.registry-g.com",
            "mirror-4.registry-g.com",
            "registry-g.com/bar",
        ],
        [False, False, False, False],
    ),
]


@pytest.fixture(scope="module")
def pull_sources() -> MirrorConfig:
    config = load("pull-sources-from-reference.conf")
    assert len(config.registries) == 9
    return config


@pytest.mark.parametrize(
    ("prefix", "digest_at", "digest_insecure", "tag_at", "tag_insecure"),
    PULL_SOURCES,
    ids=[p[0] for p in PULL_SOURCES],
)
def test_pull_sources(
    pull_sources: MirrorConfig,
    prefix: str,
    digest_at: list[str],
    digest_insecure: list[bool],
    tag_at: list[str],
    tag_insecure: list[bool],
) -> None:
    """Mirrors by pull kind (mirror-by-digest-only, pull-from-mirror), origin last."""
    registry, _, namespace = prefix.partition("/")
    for by_digest, at, insecure in (
        (True, digest_at, digest_insecure),
        (False, tag_at, tag_insecure),
    ):
        found = endpoints(registry, f"{namespace}/image", by_digest=by_digest, config=pull_sources)
        assert names(found) == [f"{location}/image" for location in at]
        assert [e.insecure for e in found] == insecure
        assert [e.mirror for e in found] == [True] * (len(at) - 1) + [False]


def test_man_page_example() -> None:
    """The man page's example tries both mirrors, then the rewritten location, in that order."""
    config = load("manpage-example.conf")
    found = endpoints("example.com", "foo/image", by_digest=False, config=config)
    assert names(found) == [
        "example-mirror-0.local/mirror-for-foo/image",
        "example-mirror-1.local/mirrors/foo/image",
        "internal-registry-for-example.com/bar/image",
    ]
    assert [e.insecure for e in found] == [False, True, False]
    # "a mirror is associated only with the current [[registry]] TOML table"
    assert names(endpoints("registry.com", "image", by_digest=False, config=config)) == [
        "mirror.registry.com/image",
        "registry.com/image",
    ]


def test_no_configuration_is_the_origin_alone() -> None:
    """Without configuration the origin is the only endpoint; Docker Hub speaks on registry-1."""
    (only,) = endpoints("docker.io", "alpine", by_digest=False, config=MirrorConfig())
    assert only == Endpoint("docker.io", "library/alpine")
    assert only.host == "registry-1.docker.io"


@pytest.mark.parametrize(
    ("registry", "repository", "expected"),
    [
        ("docker.io", "alpine", "docker.io/library/alpine"),
        ("index.docker.io", "alpine", "docker.io/library/alpine"),
        ("registry-1.docker.io", "library/alpine", "docker.io/library/alpine"),
        ("", "user/app", "docker.io/user/app"),
        ("ghcr.io", "alpine", "ghcr.io/alpine"),
        ("localhost:5000", "a/b", "localhost:5000/a/b"),
    ],
    ids=[
        "hub short name",
        "legacy hub host",
        "hub api host",
        "no registry",
        "other registry",
        "port",
    ],
)
def test_logical_name(registry: str, repository: str, expected: str) -> None:
    """Names are matched the way containers/image names them: docker.io/library/..."""
    assert logical_name(registry, repository) == expected


def test_docker_io_library_prefixes() -> None:
    """docker.io/alpine matches docker.io/alpine/*, not the official docker.io/library/alpine."""
    config = parse_registries_conf(
        '[[registry]]\nprefix = "docker.io/alpine"\nlocation = "wrong.example"\n'
        '[[registry]]\nprefix = "docker.io/library/alpine"\nlocation = "right.example/alpine"\n',
        "hub.conf",
    )
    assert names(endpoints("docker.io", "alpine", by_digest=False, config=config)) == [
        "right.example/alpine"
    ]
    assert names(endpoints("docker.io", "alpine/git", by_digest=False, config=config)) == [
        "wrong.example/git"
    ]


def test_a_rewrite_into_an_invalid_name_names_the_file() -> None:
    """A table rewriting docker.io/library/x to docker.io/x is an error naming file and line."""
    config = parse_registries_conf(
        '\n[[registry]]\nprefix = "docker.io/library"\nlocation = "docker.io"\n', "/etc/r.conf"
    )
    with pytest.raises(MirrorConfigError) as caught:
        endpoints("docker.io", "alpine", by_digest=False, config=config)
    assert "/etc/r.conf line 2" in str(caught.value) and "'docker.io/alpine'" in str(caught.value)


# -- blocked --------------------------------------------------------------------------------


def test_blocked_registry_names_the_file_and_line() -> None:
    """Pulling from a blocked table raises BlockedRegistryError naming file and line."""
    config = load("mirrors.conf")
    with pytest.raises(BlockedRegistryError) as caught:
        endpoints("blocked.registry.com", "image", by_digest=True, config=config)
    error = caught.value
    assert (error.prefix, error.source, error.line) == (
        "blocked.registry.com",
        str(DATA / "mirrors.conf"),
        11,
    )
    assert f"{DATA / 'mirrors.conf'} line 11" in str(error)


def test_blocked_by_a_drop_in() -> None:
    """base.com, insecure in the main file, is blocked by config-2.conf and says so."""
    config = load("base-for-registries.d.conf", "registries.conf.d")
    with pytest.raises(BlockedRegistryError, match="config-2.conf"):
        endpoints("base.com", "test", by_digest=False, config=config)


def test_blocked_origin_still_pulls_from_its_mirror() -> None:
    """containers/image issue #2497: a blocked registry with a mirror is reached via the mirror."""
    config = parse_registries_conf(
        '[[registry]]\nprefix = ""\nlocation = "quay.io"\nblocked = true\n\n'
        '[[registry.mirror]]\nlocation = "registry.internal.dev"\n',
        "disconnected.conf",
    )
    found = endpoints("quay.io", "org/app", by_digest=True, config=config)
    assert names(found) == ["registry.internal.dev/org/app"] and found[0].mirror


def test_a_blocked_mirror_is_skipped() -> None:
    """A mirror whose rewritten name falls under a blocked table is not tried."""
    config = parse_registries_conf(
        '[[registry]]\nlocation = "registry.com"\n'
        '[[registry.mirror]]\nlocation = "bad-mirror.com"\n'
        '[[registry.mirror]]\nlocation = "good-mirror.com"\n'
        '[[registry]]\nlocation = "bad-mirror.com"\nblocked = true\n',
        "m.conf",
    )
    assert names(endpoints("registry.com", "img", by_digest=False, config=config)) == [
        "good-mirror.com/img",
        "registry.com/img",
    ]


def test_blocked_prefix_with_another_location_is_still_blocked() -> None:
    """ociinspect: blocked applies to matching names even when location rewrites them."""
    config = parse_registries_conf(
        '[[registry]]\nprefix = "example.com/foo"\nlocation = "internal.example/bar"\n'
        "blocked = true\n",
        "b.conf",
    )
    with pytest.raises(BlockedRegistryError, match="'example.com/foo'"):
        endpoints("example.com", "foo/image", by_digest=False, config=config)


# -- daemon.json ----------------------------------------------------------------------------


def test_dockerd_reference_example_has_no_mirrors() -> None:
    """dockerd's documented full daemon.json (75 keys, empty lists) parses to no mirrors."""
    config = read_daemon_json(str(DATA / "dockerd-reference-daemon.json"))
    assert config.registries == () and config.sources == (
        str(DATA / "dockerd-reference-daemon.json"),
    )


def daemon(**document: object) -> MirrorConfig:
    return parse_daemon_json(json.dumps(document), "/etc/docker/daemon.json")


def test_daemon_mirrors_apply_to_docker_hub_only() -> None:
    """registry-mirrors ("Only the central Hub can be mirrored") serve Hub tags and digests."""
    config = daemon(**{"registry-mirrors": ["https://mirror.gcr.io", "http://10.0.0.5:5000/"]})
    for by_digest in (False, True):
        found = endpoints("docker.io", "alpine", by_digest=by_digest, config=config)
        assert found == [
            Endpoint(
                "mirror.gcr.io", "library/alpine", False, True, "https", "/etc/docker/daemon.json"
            ),
            Endpoint(
                "10.0.0.5:5000", "library/alpine", True, True, "http", "/etc/docker/daemon.json"
            ),
            Endpoint("docker.io", "library/alpine", False, False, None, "/etc/docker/daemon.json"),
        ]
    assert names(endpoints("ghcr.io", "org/app", by_digest=False, config=config)) == [
        "ghcr.io/org/app"
    ]


@pytest.mark.parametrize(
    ("host", "insecure_registries", "expected"),
    [
        ("mirror.local:5000", [], False),
        ("mirror.local:5000", ["mirror.local:5000"], True),
        ("192.0.2.7:5000", ["10.0.0.0/8"], False),
        ("192.0.2.7:5000", ["192.0.2.0/24"], True),
        ("mirror.local:5000", ["192.0.2.0/24"], False),
    ],
    ids=[
        "not listed",
        "listed by host:port",
        "other CIDR",
        "inside a CIDR",
        "names never resolved",
    ],
)
def test_daemon_insecure_registries_mark_mirrors(
    host: str, insecure_registries: list[str], expected: bool
) -> None:
    """A mirror listed in insecure-registries (host:port, or an IP inside a CIDR) is insecure."""
    document = {"registry-mirrors": [f"https://{host}"], "insecure-registries": insecure_registries}
    config = daemon(**document)
    assert config.registries[0].mirrors[0].insecure is expected


BAD_DAEMON = [
    ("no scheme", {"registry-mirrors": ["mirror.gcr.io"]}, "no scheme specified"),
    ("ftp", {"registry-mirrors": ["ftp://mirror.gcr.io"]}, "unsupported scheme"),
    ("user-info", {"registry-mirrors": ["https://u:secret@mirror.gcr.io"]}, "username/password"),
    ("query", {"registry-mirrors": ["https://mirror.gcr.io/?x=1"]}, "query or fragment"),
    ("path", {"registry-mirrors": ["https://mirror.example/v2/proxy"]}, "a path"),
    ("bad port", {"registry-mirrors": ["https://mirror.example:99999"]}, "not a valid URI"),
    ("not a list", {"registry-mirrors": "https://mirror.gcr.io"}, "list of strings"),
    ("numbers", {"insecure-registries": [1]}, "list of strings"),
]


@pytest.mark.parametrize(
    ("document", "message"), [b[1:] for b in BAD_DAEMON], ids=[b[0] for b in BAD_DAEMON]
)
def test_bad_daemon_json(document: dict, message: str) -> None:
    """An invalid mirror URL is refused as dockerd refuses it, naming daemon.json."""
    with pytest.raises(MirrorConfigError) as caught:
        daemon(**document)
    assert message in str(caught.value) and "/etc/docker/daemon.json" in str(caught.value)
    assert "secret" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{\n  "registry-mirrors": [,]\n}', "line 2"),
        ("[1, 2]", "JSON object"),
        ("[" * 100_000, "not valid JSON"),
    ],
    ids=["syntax error", "array", "deep nesting"],
)
def test_daemon_json_syntax(text: str, message: str) -> None:
    """Broken JSON is a typed error with the line where the parser stopped."""
    with pytest.raises(MirrorConfigError, match="Docker daemon configuration") as caught:
        parse_daemon_json(text, "/etc/docker/daemon.json")
    assert message in str(caught.value)


def test_missing_daemon_json() -> None:
    """A missing daemon.json means no Docker mirrors unless it was required."""
    assert read_daemon_json(NOWHERE) == MirrorConfig()
    with pytest.raises(MirrorConfigError, match="no such file"):
        read_daemon_json(NOWHERE, required=True)


# -- a Session's plain list -----------------------------------------------------------------


def test_from_mirrors_accepts_urls_and_locations() -> None:
    """A Session list takes Docker-style URLs and registries.conf locations with a namespace."""
    config = MirrorConfig.from_mirrors(
        ["https://mirror.gcr.io", "harbor.example.com/dockerhub-proxy/"]
    )
    assert names(endpoints("docker.io", "alpine", by_digest=False, config=config)) == [
        "mirror.gcr.io/library/alpine",
        "harbor.example.com/dockerhub-proxy/library/alpine",
        "docker.io/library/alpine",
    ]
    assert config.has_mirrors("docker.io", "alpine") and not config.has_mirrors("ghcr.io", "a")


def test_from_mirrors_for_another_registry() -> None:
    """A Session list can mirror any registry, not only Docker Hub."""
    config = MirrorConfig.from_mirrors(["ghcr-cache.internal"], registry="ghcr.io")
    assert names(endpoints("ghcr.io", "org/app", by_digest=True, config=config)) == [
        "ghcr-cache.internal/org/app",
        "ghcr.io/org/app",
    ]


@pytest.mark.parametrize(
    "item",
    ["", "/just/a/path", "ftp://x.example", "https://u:p@x.example", "bad host!/ns", 5],
    ids=["empty", "no host", "ftp", "user-info", "bad host", "not a string"],
)
def test_from_mirrors_refuses_bad_items(item: object) -> None:
    """A bad mirror in a Session list is a MirrorConfigError naming the setting."""
    with pytest.raises(MirrorConfigError, match="session setting"):
        MirrorConfig.from_mirrors([item])  # type: ignore[list-item]


def test_from_mirrors_is_bounded() -> None:
    """An endless mirror list stops at the limit instead of being consumed."""

    def endless():
        while True:
            yield "m.example"

    with pytest.raises(SizeLimitError):
        MirrorConfig.from_mirrors(endless())


# -- locations and from_env: TestNewConfigWrapper --------------------------------------------

LOCATIONS = [
    (
        "nothing set",
        {},
        False,
        ("/etc/containers/registries.conf", False, ("/etc/containers/registries.conf.d",)),
    ),
    (
        "home, no user file",
        {"HOME": "/home/u"},
        False,
        (
            "/etc/containers/registries.conf",
            False,
            ("/etc/containers/registries.conf.d", "/home/u/.config/containers/registries.conf.d"),
        ),
    ),
    (
        "user file present",
        {"HOME": "/home/u"},
        True,
        (
            "/home/u/.config/containers/registries.conf",
            True,
            ("/home/u/.config/containers/registries.conf.d",),
        ),
    ),
    (
        "override",
        {
            "CONTAINERS_REGISTRIES_CONF": "/this/is/not/the/default/registries.conf",
            "HOME": "/home/u",
        },
        False,
        (
            "/this/is/not/the/default/registries.conf",
            True,
            ("/etc/containers/registries.conf.d", "/home/u/.config/containers/registries.conf.d"),
        ),
    ),
    (
        "override beats a user file",
        {
            "CONTAINERS_REGISTRIES_CONF": "/this/is/not/the/default/registries.conf",
            "HOME": "/home/u",
        },
        True,
        (
            "/this/is/not/the/default/registries.conf",
            True,
            ("/etc/containers/registries.conf.d", "/home/u/.config/containers/registries.conf.d"),
        ),
    ),
    (
        "legacy variable",
        {"REGISTRIES_CONFIG_PATH": "/y.conf"},
        False,
        ("/y.conf", True, ("/etc/containers/registries.conf.d",)),
    ),
    (
        "empty override is unset and hides the legacy variable",
        {"CONTAINERS_REGISTRIES_CONF": "", "REGISTRIES_CONFIG_PATH": "/y.conf"},
        False,
        ("/etc/containers/registries.conf", False, ("/etc/containers/registries.conf.d",)),
    ),
    (
        "no expansion",
        {"CONTAINERS_REGISTRIES_CONF": "$HOME"},
        False,
        ("$HOME", True, ("/etc/containers/registries.conf.d",)),
    ),
]


@pytest.mark.parametrize(
    ("env", "user_file_exists", "expected"),
    [c[1:] for c in LOCATIONS],
    ids=[c[0] for c in LOCATIONS],
)
def test_locations(env: dict[str, str], user_file_exists: bool, expected: tuple) -> None:
    """Which main file and drop-in directories an environment implies (newConfigWrapper)."""
    plan = locations(env).plan(user_file_exists=user_file_exists)
    assert (plan.main, plan.main_required, plan.drop_in_dirs) == expected


def test_locations_is_pure() -> None:
    """locations() reads only the mapping it is given, never os.environ."""
    assert locations({}) == ConfigLocations(None, None, None)


def test_from_env_reads_user_files_and_daemon_json(tmp_path: Path) -> None:
    """from_env: the user's registries.conf and drop-ins over daemon.json's Hub mirrors."""
    conf = tmp_path / ".config" / "containers"
    (conf / "registries.conf.d").mkdir(parents=True)
    (conf / "registries.conf").write_text(
        'unqualified-search-registries = ["docker.io"]\n'
        '[[registry]]\nlocation = "quay.io"\n[[registry.mirror]]\nlocation = "quay-cache.local"\n'
    )
    (conf / "registries.conf.d" / "50-ghcr.conf").write_text(
        '[[registry]]\nlocation = "ghcr.io"\n[[registry.mirror]]\nlocation = "ghcr-cache.local"\n'
    )
    daemon_json = tmp_path / "daemon.json"
    daemon_json.write_text('{"registry-mirrors": ["https://mirror.gcr.io"], "debug": true}')
    config = from_env({"HOME": str(tmp_path)}, daemon_json=str(daemon_json))
    assert config.unqualified_search_registries == ("docker.io",)
    assert (
        names(endpoints("quay.io", "a/b", by_digest=False, config=config))[0]
        == "quay-cache.local/a/b"
    )
    assert (
        names(endpoints("ghcr.io", "a/b", by_digest=False, config=config))[0]
        == "ghcr-cache.local/a/b"
    )
    assert names(endpoints("docker.io", "alpine", by_digest=False, config=config))[0] == (
        "mirror.gcr.io/library/alpine"
    )
    assert config.sources == (
        str(daemon_json),
        str(conf / "registries.conf"),
        str(conf / "registries.conf.d" / "50-ghcr.conf"),
    )


def test_registries_conf_hub_table_replaces_daemon_mirrors(tmp_path: Path) -> None:
    """A registries.conf docker.io table is applied over daemon.json's, replacing it whole."""
    conf = tmp_path / ".config" / "containers"
    conf.mkdir(parents=True)
    (conf / "registries.conf").write_text(
        '[[registry]]\nlocation = "docker.io"\n[[registry.mirror]]\nlocation = "hub-cache.local"\n'
    )
    daemon_json = tmp_path / "daemon.json"
    daemon_json.write_text('{"registry-mirrors": ["https://mirror.gcr.io"]}')
    config = MirrorConfig.from_env({"HOME": str(tmp_path)}, daemon_json=str(daemon_json))
    assert names(endpoints("docker.io", "alpine", by_digest=False, config=config)) == [
        "hub-cache.local/library/alpine",
        "docker.io/library/alpine",
    ]
    session = config.merged(MirrorConfig.from_mirrors(["https://session.example"]))
    assert names(endpoints("docker.io", "alpine", by_digest=False, config=session))[0] == (
        "session.example/library/alpine"
    )


def test_unreadable_main_file_is_a_typed_error(tmp_path: Path) -> None:
    """A registries.conf that is a directory is refused with the path, not an OSError."""
    (tmp_path / ".config" / "containers" / "registries.conf").mkdir(parents=True)
    with pytest.raises(MirrorConfigError, match="registries.conf"):
        from_env({"HOME": str(tmp_path)}, daemon_json=None)
