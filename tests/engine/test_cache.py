"""The content-addressed cache: entries appear whole or not at all."""
import pytest

from shrink_edge.engine.cache import Cache


def test_miss_creates_then_hit_reuses(tmp_path):
    cache, calls = Cache(tmp_path), []

    def create(dst):
        calls.append(dst)
        dst.write_text("made")

    path, hit = cache.get_or_create("ab" * 32, "a.txt", create)
    again, hit_again = cache.get_or_create("ab" * 32, "a.txt", create)
    assert (hit, hit_again) == (False, True)
    assert path == again and path.read_text() == "made" and len(calls) == 1


def test_failed_creation_leaves_nothing(tmp_path):
    cache = Cache(tmp_path)

    def create(dst):
        dst.write_text("half")
        raise RuntimeError("converter crashed")

    with pytest.raises(RuntimeError):
        cache.get_or_create("cd" * 32, "a.txt", create)
    assert not cache.path("cd" * 32, "a.txt").exists()
    assert [p for p in tmp_path.rglob("*") if p.is_file()] == []
