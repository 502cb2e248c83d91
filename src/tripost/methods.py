"""The methods a run can hold (names are the contract) and the typed TriPosT iteration.

- ``sft``: the SFT model on gold rationales (iteration 0);
- ``tripost``: TriPosT iterations t = 1..T (checkpoints ``iter{t}``);
- ``tripost_auto``: the same iterations without rebalancing (ratio null; ``auto_iter{t}``);
- ``sft_more``: SFT trained further on gold rationales, compute-matched;
- ``sft_si_demos``: SFT trained further, compute-matched, on self-improvement demonstrations
  written entirely by the expert (errors the small model did not make);
- ``lmsi``: SFT trained further, compute-matched, on its own majority-vote rationales (Huang et
  al. 2022, no gold labels).

*Compute-matched*: as many optimizer steps, with the same batch size and schedule, as all TriPosT
iterations together.
"""

from __future__ import annotations

from dataclasses import dataclass

METHODS = ("sft", "tripost", "tripost_auto", "sft_more", "sft_si_demos", "lmsi")
#: methods trained from the SFT model for as many steps as all TriPosT iterations
MATCHED = ("sft_more", "sft_si_demos", "lmsi")
#: iterated methods and the prefix of their checkpoint / stage names
FAMILIES = {"tripost": "iter", "tripost_auto": "auto_iter"}


@dataclass(frozen=True)
class Iteration:
    """Iteration ``t`` (1-based) of an iterated method: ``Iteration("tripost", 3).name == "iter3"``."""

    family: str
    t: int

    def __post_init__(self) -> None:
        if self.family not in FAMILIES:
            raise ValueError(f"not an iterated method: {self.family!r}")
        if self.t < 1:
            raise ValueError(f"iterations count from 1, got {self.t}")

    @property
    def name(self) -> str:
        """Checkpoint name, stage prefix and folder of the iteration."""
        return f"{FAMILIES[self.family]}{self.t}"

    @property
    def prev(self) -> str:
        """The checkpoint this iteration starts from."""
        return "sft" if self.t == 1 else Iteration(self.family, self.t - 1).name

    @classmethod
    def parse(cls, name: str) -> Iteration:
        """The inverse of ``name``: ``"auto_iter2"`` -> ``Iteration("tripost_auto", 2)``."""
        for family, prefix in sorted(FAMILIES.items(), key=lambda kv: -len(kv[1])):
            rest = name.removeprefix(prefix)
            if rest != name and rest.isdigit():
                return cls(family, int(rest))
        raise ValueError(f"not an iteration name: {name!r}")


def default_methods(sft_more: bool = True) -> list[str]:
    """What a run holds when its config names no methods (the behaviour before ``methods``)."""
    return ["sft", "tripost"] + (["sft_more"] if sft_more else [])


def parse_methods(text: str) -> list[str]:
    """``"sft,lmsi"`` -> ``["sft", "lmsi"]``, checked; raises ValueError naming a bad one."""
    names = [m.strip() for m in text.split(",") if m.strip()]
    check_methods(names)
    return names


def check_methods(names: list[str]) -> None:
    if not names:
        raise ValueError("no method given")
    for m in names:
        if m not in METHODS:
            raise ValueError(f"unknown method {m!r}; known: {', '.join(METHODS)}")
    if len(set(names)) != len(names):
        raise ValueError(f"a method is named twice: {','.join(names)}")


def ordered(names: list[str]) -> list[str]:
    """``names`` in the order of ``METHODS`` (the order runs and tables use)."""
    return [m for m in METHODS if m in names]


def evaluations(methods: list[str], iterations: int) -> list[tuple[str, str, int]]:
    """``(checkpoint, method, iteration)`` of every evaluated model of a run, in report order."""
    out = []
    for m in ordered(methods):
        if m in FAMILIES:
            out += [(Iteration(m, t).name, m, t) for t in range(1, iterations + 1)]
        else:
            out.append((m, m, 0))
    return out


def checkpoint(method: str, iteration: int) -> str:
    """The checkpoint (and ``eval/`` file) name of a method's model at an iteration."""
    return Iteration(method, iteration).name if method in FAMILIES else method
