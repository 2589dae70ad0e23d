"""PIN_CPUS=auto: deciding from the OS's files whether the cores are the process's own."""

from __future__ import annotations

from pathlib import Path

from app.placement import (
    Placement,
    cgroup_limit,
    decide,
    parse_cpu_list,
    resolve,
    steal_share,
)

V1_CGROUP = "4:memory:/process_api/1\n2:cpuacct:/\n1:cpu:/\n0::/\n"
V2_CGROUP = "0::/system.slice/app.service\n"


def _machine(root: Path, cgroup: str, files: dict[str, str], online: str = "0-1") -> Path:
    """A tree with the files the decision reads: /proc/self/cgroup, online CPUs, cgroup files."""
    for path, text in {
        "proc/self/cgroup": cgroup,
        "sys/devices/system/cpu/online": online + "\n",
        **files,
    }.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return root


def _stat(user: int, idle: int, steal: int) -> str:
    return f"cpu  {user} 0 0 {idle} 0 0 0 {steal} 0 0\ncpu0 {user} 0 0 {idle} 0 0 0 {steal} 0 0\n"


def test_cpu_lists_are_read_as_the_kernel_writes_them() -> None:
    assert parse_cpu_list("0-3,8,10-11\n") == {0, 1, 2, 3, 8, 10, 11}
    assert parse_cpu_list("0") == {0}


def test_a_v1_machine_with_no_quota_and_every_cpu_allowed_is_pinned(tmp_path: Path) -> None:
    root = _machine(
        tmp_path,
        V1_CGROUP,
        {"sys/fs/cgroup/cpu/cpu.cfs_quota_us": "-1\n", "sys/fs/cgroup/cpu/cpu.shares": "1024\n"},
    )
    placement = decide({0, 1}, root, steal=0.0)
    assert placement.pin is True
    assert "no CPU quota" in placement.reason


def test_a_cfs_quota_in_the_process_cgroup_or_a_parent_leaves_placement_to_the_kernel(
    tmp_path: Path,
) -> None:
    root = _machine(
        tmp_path,
        "1:cpu,cpuacct:/docker/abc\n0::/\n",
        {
            "sys/fs/cgroup/cpu,cpuacct/cpu.cfs_quota_us": "-1\n",
            "sys/fs/cgroup/cpu,cpuacct/docker/cpu.cfs_quota_us": "150000\n",
            "sys/fs/cgroup/cpu,cpuacct/docker/abc/cpu.cfs_quota_us": "-1\n",
        },
    )
    placement = decide({0, 1}, root, steal=0.0)
    assert placement == Placement(
        False,
        "a CPU quota in its cgroup (cpu.cfs_quota_us 150000): "
        "the machine's time is shared with others",
    )


def test_a_v2_cpu_max_is_a_quota_and_max_is_none(tmp_path: Path) -> None:
    limited = _machine(
        tmp_path / "limited",
        V2_CGROUP,
        {"sys/fs/cgroup/system.slice/app.service/cpu.max": "200000 100000\n"},
    )
    free = _machine(
        tmp_path / "free",
        V2_CGROUP,
        {
            "sys/fs/cgroup/system.slice/app.service/cpu.max": "max 100000\n",
            "sys/fs/cgroup/system.slice/app.service/cpu.weight": "100\n",
        },
    )
    assert cgroup_limit(limited) == "a CPU quota in its cgroup (cpu.max 200000 100000)"
    assert decide({0, 1}, limited, steal=0.0).pin is False
    assert decide({0, 1}, free, steal=0.0).pin is True


def test_a_cpu_share_or_weight_other_than_the_default_means_a_shared_machine(
    tmp_path: Path,
) -> None:
    v1 = _machine(
        tmp_path / "v1",
        "1:cpu:/dyno\n",
        {
            "sys/fs/cgroup/cpu/cpu.shares": "1024\n",
            "sys/fs/cgroup/cpu/dyno/cpu.cfs_quota_us": "-1\n",
            "sys/fs/cgroup/cpu/dyno/cpu.shares": "256\n",
        },
    )
    v2 = _machine(tmp_path / "v2", V2_CGROUP, {"sys/fs/cgroup/system.slice/cpu.weight": "50\n"})
    assert cgroup_limit(v1) == "a CPU share in its cgroup (cpu.shares 256)"
    assert cgroup_limit(v2) == "a CPU weight in its cgroup (cpu.weight 50)"
    assert decide({0, 1}, v1, steal=0.0).pin is False
    assert decide({0, 1}, v2, steal=0.0).pin is False


def test_a_process_already_kept_to_some_cpus_is_left_as_placed(tmp_path: Path) -> None:
    root = _machine(tmp_path, V1_CGROUP, {}, online="0-3")
    placement = decide({0, 1}, root, steal=0.0)
    assert placement.pin is False
    assert "may use CPUs [0, 1] of [0, 1, 2, 3]" in placement.reason


def test_one_cpu_leaves_nothing_to_pin(tmp_path: Path) -> None:
    assert decide({0}, _machine(tmp_path, V1_CGROUP, {}, online="0"), steal=0.0).pin is False


def test_steal_time_above_five_percent_means_a_hypervisor_shares_the_cpus(tmp_path: Path) -> None:
    root = _machine(tmp_path, V1_CGROUP, {})
    assert steal_share(_stat(100, 100, 0), _stat(150, 130, 20)) == 0.2
    assert decide({0, 1}, root, steal=0.2).pin is False
    assert decide({0, 1}, root, steal=0.01).pin is True
    # No time passed between the readings: nothing to say, which does not stop pinning.
    assert steal_share(_stat(100, 100, 0), _stat(100, 100, 0)) is None
    assert decide({0, 1}, root, steal=None).pin is True


def test_true_and_false_decide_without_reading_the_machine(tmp_path: Path) -> None:
    empty = tmp_path  # no files at all: auto would find nothing to go on
    assert resolve(True, {0, 1}, empty) == Placement(True, "PIN_CPUS=true")
    assert resolve(False, {0, 1}, empty) == Placement(False, "PIN_CPUS=false")
