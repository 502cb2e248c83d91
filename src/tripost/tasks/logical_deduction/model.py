"""Scenes of logical deduction questions: domains, statements, "??" patterns, solutions.

This module holds everything about text: reading and writing questions and the step forms of
the rationale. A BIG-Bench Hard question such as::

    The following paragraphs each describe a set of three objects arranged in a fixed order.
    The statements are logically consistent within each paragraph. On a branch, there are three
    birds: a blue jay, a quail, and a falcon. The falcon is to the right of the blue jay. The blue
    jay is to the right of the quail.
    Options:
    (A) The blue jay is the second from the left
    ...

is read into a :class:`Scene`. Every statement becomes a :class:`Pattern` over positions, written
in the notation of the paper's rationales, where ``??`` stands for zero or more objects and ``?``
for exactly one: "The falcon is to the right of the blue jay" is
``(left) ?? blue jay ?? falcon ?? (right)``, "The quail is the second from the right" is
``(left) ?? quail ? (right)``. Position 1 is the end named first (left, oldest, most expensive,
above). :func:`solutions` enumerates the orders that satisfy a set of patterns.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache

import numpy as np

from tripost.trajectory import Step

ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh"]
NUMBER_WORDS = {"three": 3, "four": 4, "five": 5, "six": 6, "seven": 7}
HEADER = (
    "The following paragraphs each describe a set of {n} objects arranged in a fixed order. "
    "The statements are logically consistent within each paragraph. "
)


@dataclass(frozen=True)
class Domain:
    """One kind of scene. ``first``/``last`` name the two ends (position 1 is ``first``);
    ``before``/``after`` are the relative predicates meaning "closer to first/last than"."""

    key: str
    intro: str  # with {n}, e.g. "On a shelf, there are {n} books"
    noun: str  # singular noun of one object, e.g. "book"
    pool: tuple[str, ...]
    first: str
    last: str
    before: str
    after: str
    listed_with_article: bool  # "a blue book" in the list of objects
    the: bool  # "The blue book is ..." (golfers have no article)
    verb: str  # "is", "are", "finished"

    def absolute(self, k: int, from_last: bool) -> str:
        """The predicate for the k-th object from one end, e.g. ``is the second from the left``."""
        o = ORDINALS[k - 1]
        if self.key in ("books", "birds"):
            if k == 1:
                return f"is the {'rightmost' if from_last else 'leftmost'}"
            return f"is the {o} from the {'right' if from_last else 'left'}"
        if self.key == "golfers":
            if from_last:
                return "finished last" if k == 1 else f"finished {o}-to-last"
            return f"finished {o}"
        end = {"vehicles": ("oldest", "newest"), "fruits": ("most expensive", "cheapest")}
        word = end[self.key][from_last]
        return f"{self.verb} the {word}" if k == 1 else f"{self.verb} the {o}-{word}"

    def subject(self, name: str) -> str:
        return f"The {name}" if self.the else name

    def mention(self, name: str) -> str:
        """How a sentence names an object after its start: ``the blue book`` / ``Rob``."""
        return f"the {name}" if self.the else name


DOMAINS: dict[str, Domain] = {
    d.key: d
    for d in [
        Domain(
            "books", "On a shelf, there are {n} books", "book",
            ("black book", "blue book", "brown book", "gray book", "green book", "orange book",
             "purple book", "red book", "white book", "yellow book"),
            "left", "right", "is to the left of", "is to the right of", True, True, "is",
        ),
        Domain(
            "birds", "On a branch, there are {n} birds", "bird",
            ("blue jay", "cardinal", "crow", "falcon", "hawk", "hummingbird", "owl", "quail",
             "raven", "robin"),
            "left", "right", "is to the left of", "is to the right of", True, True, "is",
        ),
        Domain(
            "golfers", "In a golf tournament, there were {n} golfers", "golfer",
            ("Ada", "Amy", "Ana", "Dan", "Eli", "Eve", "Joe", "Mel", "Mya", "Rob"),
            "above", "below", "finished above", "finished below", False, False, "finished",
        ),
        Domain(
            "vehicles", "In an antique car show, there are {n} vehicles", "vehicle",
            ("bus", "convertible", "hatchback", "limousine", "minivan", "motorcyle", "sedan",
             "station wagon", "tractor", "truck"),
            "oldest", "newest", "is older than", "is newer than", True, True, "is",
        ),
        Domain(
            "fruits", "A fruit stand sells {n} fruits", "fruit",
            ("apples", "cantaloupes", "kiwis", "loquats", "mangoes", "oranges", "peaches",
             "pears", "plums", "watermelons"),
            "most expensive", "least expensive", "are more expensive than",
            "are less expensive than", False, True, "are",
        ),
    ]
}  # fmt: skip


@dataclass(frozen=True)
class Pattern:
    """A constraint on positions in the paper's notation: names, ``?`` (one object) and ``??``
    (zero or more objects) between the two ends, e.g. ``(left) ? ? crow ?? (right)``."""

    tokens: tuple[str, ...]

    @property
    def names(self) -> list[str]:
        return [t for t in self.tokens if t not in ("?", "??")]

    def render(self, domain: Domain) -> str:
        return " ".join([f"({domain.first})", *self.tokens, f"({domain.last})"])

    def bare(self) -> str:
        """The pattern without its ends, as the compact style writes it: ``?? crow ??``."""
        return " ".join(self.tokens)

    @classmethod
    def parse(cls, text: str, domain: Domain, names: Sequence[str]) -> Pattern:
        """Read ``(left) ?? blue jay ?? falcon ?? (right)``; ValueError saying what is wrong."""
        head, tail = f"({domain.first})", f"({domain.last})"
        if not (text.startswith(head) and text.endswith(tail)):
            raise ValueError(f'the ordering must go from "{head}" to "{tail}"')
        return cls.read(text[len(head) : len(text) - len(tail)], names)

    @classmethod
    def read(cls, text: str, names: Sequence[str]) -> Pattern:
        """Read the tokens between the ends, ``?? blue jay ?? falcon ??``: ``?``, ``??`` and
        the objects' names, a name of several words matched whole (longest names first)."""
        words = text.split()
        by_len = sorted(names, key=lambda s: -len(s.split()))
        tokens: list[str] = []
        i = 0
        while i < len(words):
            if words[i] in ("?", "??"):
                tokens.append(words[i])
                i += 1
                continue
            for name in by_len:
                n = len(name.split())
                if " ".join(words[i : i + n]).lower() == name.lower():
                    tokens.append(name)
                    i += n
                    break
            else:
                raise ValueError(f'"{words[i]}" in the ordering is not one of the objects')
        seen = [t for t in tokens if t not in ("?", "??")]
        if len(set(seen)) != len(seen):
            raise ValueError("the ordering names an object twice")
        if not seen:
            raise ValueError("the ordering names no object")
        return cls(tuple(tokens))

    @cached_property
    def _segments(self) -> tuple[tuple[str | None, int, bool], ...]:
        """(anchor, number of ``?`` before it, whether a ``??`` is before it); None = far end.
        Cached: :meth:`holds_rows` asks it for thousands of orders at a time."""
        out: list[tuple[str | None, int, bool]] = []
        q, flex = 0, False
        for t in self.tokens:
            if t == "?":
                q += 1
            elif t == "??":
                flex = True
            else:
                out.append((t, q, flex))
                q, flex = 0, False
        out.append((None, q, flex))
        return tuple(out)

    def holds(self, pos: dict[str, int], n: int) -> bool:
        """Whether the order with 1-based positions ``pos`` (name -> position) matches."""
        prev = 0
        for name, q, flex in self._segments:
            cur = n + 1 if name is None else pos[name]
            gap = cur - prev - 1
            if gap < q or (not flex and gap != q):
                return False
            prev = cur
        return True

    def holds_rows(self, orders: np.ndarray, index: dict[str, int], n: int) -> np.ndarray:
        """:meth:`holds` for many orders at once: ``orders`` has one row of 1-based positions
        per order, column ``index[name]`` for each name; returns one bool per row."""
        ok = np.ones(len(orders), dtype=bool)
        prev: np.ndarray | int = 0
        for name, q, flex in self._segments:
            cur = n + 1 if name is None else orders[:, index[name]]
            gap = cur - prev - 1
            ok &= (gap >= q) if flex else (gap == q)
            prev = cur
        return ok

    def bounds(self, n: int) -> dict[str, set[int]]:
        """Positions each name can take, from counting ``?`` from both ends."""
        segs = self._segments
        lo: dict[str, tuple[int, bool]] = {}
        at, exact = 0, True
        for name, q, flex in segs[:-1]:
            at, exact = at + q + 1, exact and not flex
            lo[name] = (at, exact)  # type: ignore[index]
        hi: dict[str, tuple[int, bool]] = {}
        at, exact = n + 1, True
        for (name, _, _), (_, q, flex) in zip(reversed(segs[:-1]), reversed(segs[1:]), strict=True):
            at, exact = at - q - 1, exact and not flex
            hi[name] = (at, exact)  # type: ignore[index]
        out = {}
        for name in lo:
            (a, ea), (b, eb) = lo[name], hi[name]
            allowed = set(range(max(a, 1), min(b, n) + 1))
            allowed &= {a} if ea else allowed
            allowed &= {b} if eb else allowed
            out[name] = allowed
        return out

    def facts(self, n: int) -> dict[str, int]:
        """The names whose position the pattern fixes."""
        return {k: next(iter(v)) for k, v in self.bounds(n).items() if len(v) == 1}


def arrangement(facts: dict[str, int], n: int) -> Pattern:
    """The full-length pattern with known objects in their places: ``? Joe ? ? ?``."""
    slots = ["?"] * n
    for name, p in facts.items():
        slots[p - 1] = name
    return Pattern(tuple(slots))


@lru_cache(maxsize=8)
def all_orders(n: int) -> np.ndarray:
    """Every order of n objects: one row of 1-based positions per permutation (read-only)."""
    out = np.array(list(itertools.permutations(range(1, n + 1))), dtype=np.int64)
    out.flags.writeable = False
    return out


def satisfying(objects: Sequence[str], patterns: Iterable[Pattern]) -> np.ndarray:
    """The rows of :func:`all_orders` (columns: ``objects`` as listed) satisfying every pattern."""
    n, index = len(objects), {o: i for i, o in enumerate(objects)}
    rows = all_orders(n)
    for p in patterns:
        rows = rows[p.holds_rows(rows, index, n)]
    return rows


def solutions(objects: Sequence[str], patterns: Iterable[Pattern]) -> list[dict[str, int]]:
    """All orders (name -> 1-based position) of ``objects`` satisfying every pattern, in
    lexicographic order of the positions of the objects as listed."""
    return [dict(zip(objects, r, strict=True)) for r in satisfying(objects, patterns).tolist()]


def same_meaning(a: Pattern, b: Pattern, objects: Sequence[str]) -> bool:
    """Whether two patterns allow exactly the same placements of the names they mention."""
    if sorted(a.names) != sorted(b.names):
        return False
    n, names = len(objects), a.names
    for combo in itertools.permutations(range(1, n + 1), len(names)):
        pos = dict(zip(names, combo, strict=True))
        if a.holds(pos, n) != b.holds(pos, n):
            return False
    return True


@dataclass(frozen=True)
class Scene:
    """A parsed question: the domain, the objects (names without article, in listed order), the
    statements (sentences without final period) with their patterns, the options' objects and the
    position (1-based from ``domain.first``) the options ask about."""

    domain: Domain
    objects: tuple[str, ...]
    statements: tuple[str, ...]
    patterns: tuple[Pattern, ...]
    options: tuple[str, ...]  # option sentences without the "(A) " and final period
    option_objects: tuple[str, ...]
    asked: int

    @property
    def n(self) -> int:
        return len(self.objects)

    def letter(self, i: int) -> str:
        return f"({chr(ord('A') + i)})"

    def question(self) -> str:
        d, n = self.domain, self.n
        listed = [(_article(o) + " " if d.listed_with_article else "") + o for o in self.objects]
        listing = ", ".join(listed[:-1]) + ", and " + listed[-1]
        word = {v: k for k, v in NUMBER_WORDS.items()}[n]
        body = " ".join(s + "." for s in self.statements)
        opts = "\n".join(f"{self.letter(i)} {o}" for i, o in enumerate(self.options))
        return (
            f"{HEADER.format(n=word)}{d.intro.format(n=word)}: {listing}. {body}\nOptions:\n{opts}"
        )


def _article(name: str) -> str:
    return "an" if name[0].lower() in "aeiou" else "a"


def statement_pattern(domain: Domain, k: int, from_last: bool, name: str) -> Pattern:
    """The pattern of an absolute statement: k-th from one end."""
    if from_last:
        return Pattern(("??", name, *["?"] * (k - 1)))
    return Pattern((*["?"] * (k - 1), name, "??"))


def parse_sentence(domain: Domain, names: Sequence[str], sentence: str) -> Pattern | None:
    """The pattern of one statement or option, None if the wording is unknown.

    >>> parse_sentence(DOMAINS["golfers"], ["Rob", "Dan"], "Rob finished below Dan").tokens
    ('??', 'Dan', '??', 'Rob', '??')
    """
    n = len(names)
    absolute = {
        domain.absolute(k, last): (k, last)
        for k in range(1, min(n, len(ORDINALS)) + 1)
        for last in (False, True)
    }
    for name in sorted(names, key=len, reverse=True):
        subject = domain.subject(name) + " "
        if not sentence.startswith(subject):
            continue
        rest = sentence[len(subject) :]
        if rest in absolute:
            k, last = absolute[rest]
            return statement_pattern(domain, k, last, name)
        for phrase, forward in ((domain.before, True), (domain.after, False)):
            other = rest.removeprefix(phrase + " ")
            if other == rest:
                continue
            other = other[4:] if domain.the and other.startswith("the ") else other
            if other in names and other != name:
                a, b = (name, other) if forward else (other, name)
                return Pattern(("??", a, "??", b, "??"))
    return None


_QUESTION_RE = re.compile(
    r"^The following paragraphs each describe a set of (?P<n>\w+) objects arranged in a fixed "
    r"order\. The statements are logically consistent within each paragraph\. "
    r"(?P<intro>[^:]+): (?P<list>[^.]+)\. (?P<body>.+?)\s*\nOptions:\n(?P<opts>.+)$",
    re.DOTALL,
)


@lru_cache(maxsize=4096)
def parse_question(question: str) -> Scene | None:
    """A Scene from a question written as BIG-Bench Hard writes it; None when any part of it
    (domain, objects, a statement, an option) is not understood."""
    m = _QUESTION_RE.match(question.strip())
    if not m or m["n"] not in NUMBER_WORDS:
        return None
    n = NUMBER_WORDS[m["n"]]
    domain = next((d for d in DOMAINS.values() if d.intro.format(n=m["n"]) == m["intro"]), None)
    if domain is None:
        return None
    items = [s.strip() for s in re.split(r",\s*(?:and\s+)?|\s+and\s+", m["list"])]
    if domain.listed_with_article:
        items = [re.sub(r"^an? ", "", s) for s in items]
    objects = tuple(items)
    if len(objects) != n or len(set(objects)) != n or any(not o for o in objects):
        return None
    statements = tuple(s.strip().rstrip(".") for s in re.split(r"(?<=\.)\s+", m["body"]))
    patterns = [parse_sentence(domain, objects, s) for s in statements]
    options, option_objects, asked = [], [], set()
    for line in m["opts"].strip().split("\n"):
        om = re.match(r"^\(([A-Z])\) (.+?)\.?$", line.strip())
        pat = om and parse_sentence(domain, objects, om[2])
        if not pat or len(pat.names) != 1 or om[1] != chr(ord("A") + len(options)):
            return None
        options.append(om[2])
        option_objects.append(pat.names[0])
        facts = pat.facts(n)
        asked.add(facts.get(pat.names[0], 0))
    if None in patterns or len(asked) != 1 or 0 in asked or len(set(option_objects)) < 2:
        return None
    return Scene(
        domain, objects, statements, tuple(patterns),  # type: ignore[arg-type]
        tuple(options), tuple(option_objects), asked.pop(),
    )  # fmt: skip


# --- step forms of the rationale -------------------------------------------------------------
# A statement with its ordering:  The quail is the second from the right: "(left) ?? quail ? (right)".
# A placement:  From (5), (1) and (2), the quail is in position 1: "(left) quail ? ? (right)".
# A reading:    In (6), the second from the left is position 2, which holds the blue jay.

_TRANSLATE_RE = re.compile(r'^(?P<stmt>[^"\n]+?)\.?: "(?P<pat>[^"\n]*)"\.?$')
_PLACE_RE = re.compile(
    r'^From (?P<refs>\(\d+\)(?:(?:, | and )\(\d+\))*), (?P<places>[^"\n]+): "(?P<arr>[^"\n]*)"\.?$'
)
_ONE_PLACE_RE = re.compile(r"^(?:[Tt]he )?(?P<name>.+?) (?:is|are) in position (?P<p>\d+)$")
_READ_RE = re.compile(
    r"^In \((?P<ref>\d+)\), (?P<phrase>.+?) is position (?P<p>\d+), which holds (?P<obj>.+?)\.?$"
)
FINAL_RE = re.compile(
    r"^(?P<text>.*?)\s*(?P<so>so the answer is \((?P<l>[A-Z])\))\.?$", re.I | re.S
)


@dataclass
class Translate:
    """A statement written as an ordering."""

    index: int  # which statement
    pattern: Pattern
    pat_text: str  # the words feedback names when the pattern is wrong


@dataclass
class Place:
    """Objects placed from the cited steps, and the ordering known after it."""

    refs: list[str]
    places: list[tuple[str, int, str]]  # name, position, the words placing it
    facts: dict[str, int]
    arr_text: str


@dataclass
class Read:
    """The object in the asked position, read off an ordering. ``at`` and ``said`` are the
    words feedback names when the position or the object is wrong."""

    ref: str | None  # the ordering read; None: no earlier one (compact style)
    phrase: str | None  # the position words; None: the step gives the position only
    position: int
    name: str
    at: str
    said: str


#: what a numbered step is: one of the three forms, or why it cannot be read
Form = Translate | Place | Read | str


@dataclass
class Answer:
    """The option a final response chooses. ``so`` (``So the answer is (B)``) is the part
    feedback names when the option is wrong, ``claim`` the words before it."""

    claim: str
    so: str
    letter: str  # the option's letter, however the response names it
    name: str | None  # the object named; None: the response gives the letter


def join(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _be(d: Domain) -> str:
    return "are" if d.verb == "are" else "is"


def position_phrase(d: Domain, k: int, from_last: bool) -> str:
    """The position words of an option without its verb: ``the second from the left``,
    ``finishing second-to-last``."""
    pred = d.absolute(k, from_last)
    return (
        "finishing " + pred.removeprefix("finished ")
        if d.verb == "finished"
        else pred.split(" ", 1)[1]
    )


def phrase_positions(d: Domain, n: int) -> dict[str, int]:
    """Position words -> position, e.g. ``{"the leftmost": 1, "the rightmost": n, ...}``."""
    return {
        position_phrase(d, k, last): (n + 1 - k if last else k)
        for k in range(1, n + 1)
        for last in (False, True)
    }


def translate_text(s: Scene, i: int, pattern: Pattern | None = None) -> str:
    return f'{s.statements[i]}: "{(pattern or s.patterns[i]).render(s.domain)}".'


def place_text(s: Scene, refs: list[str], new: dict[str, int], facts: dict[str, int]) -> str:
    d = s.domain
    places = [
        f"{d.mention(o)} {_be(d)} in position {p}"
        for o, p in sorted(new.items(), key=lambda x: x[1])
    ]
    refs_text = join([f"({r})" for r in refs])
    return f'From {refs_text}, {join(places)}: "{arrangement(facts, s.n).render(d)}".'


def read_text(s: Scene, ref: str, phrase: str, p: int, name: str) -> str:
    return f"In ({ref}), {phrase} is position {p}, which holds {s.domain.mention(name)}."


def asked_phrase(s: Scene) -> str:
    """The position words of the options, e.g. ``the second from the left``."""
    subject = s.domain.subject(s.option_objects[0]) + " "
    pred = s.options[0].removeprefix(subject)
    n = s.n
    for k, last in itertools.product(range(1, n + 1), (False, True)):
        if s.domain.absolute(k, last) == pred:
            return position_phrase(s.domain, k, last)
    return f"position {s.asked}"  # unreachable for a parsed scene


def find_object(s: Scene, text: str) -> str | None:
    """``the Blue jay`` -> ``blue jay`` when it is one of the scene's objects."""
    text = text.strip()
    if s.domain.the and text.lower().startswith("the "):
        text = text[4:]
    return next((o for o in s.objects if o.lower() == text.lower()), None)


def find_statement(s: Scene, text: str) -> int | None:
    """The index of the statement ``text`` restates (case aside), None if none."""
    wanted = text.strip().lower()
    return next((i for i, t in enumerate(s.statements) if t.lower() == wanted), None)


def parse_step(s: Scene, text: str) -> Form:
    """The step's form (see the examples above this section), or a reason why it cannot be
    read, e.g. ``"the owl" is not one of the objects``."""
    if m := _PLACE_RE.match(text):
        places = []
        for part in re.split(r", | and ", m["places"]):
            pm = _ONE_PLACE_RE.match(part)
            name = pm and find_object(s, pm["name"])
            if not name:
                return f'"{part}" does not say which object is in which position'
            places.append((name, int(pm["p"]), part))  # type: ignore[index]
        try:
            pat = Pattern.parse(m["arr"], s.domain, s.objects)
        except ValueError as e:
            return str(e)
        if len(pat.tokens) != s.n or "??" in pat.tokens:
            return f"the ordering must list all {s.n} positions, with ? for an unknown one"
        refs = re.findall(r"\((\d+)\)", m["refs"])
        return Place(refs, places, pat.facts(s.n), m["arr"])
    if m := _READ_RE.match(text):
        name = find_object(s, m["obj"])
        if name is None:
            return f'"{m["obj"]}" is not one of the objects'
        p, said = int(m["p"]), text[text.index("which holds") :].rstrip(".")
        return Read(m["ref"], m["phrase"], p, name, f"is position {p}", said)
    if m := _TRANSLATE_RE.match(text):
        index = find_statement(s, m["stmt"])
        if index is None:
            return f'"{m["stmt"]}" is not one of the statements'
        try:
            return Translate(index, Pattern.parse(m["pat"], s.domain, s.objects), m["pat"])
        except ValueError as e:
            return str(e)
    return "the step is neither a statement with its ordering, a placement nor a reading"


def parse_steps(s: Scene, steps: Sequence[Step]) -> list[Form]:
    """The form of each numbered step; a paper step says all it means by itself."""
    return [parse_step(s, st.text.strip()) for st in steps]


def final_text(s: Scene, answer: str) -> str:
    letters = [s.letter(i) for i in range(len(s.options))]
    return f"{s.options[letters.index(answer)]}. So the answer is {answer}."


def option_letter(s: Scene, letter: str) -> str:
    """How the paper's final response names an option: by its letter."""
    return letter


def read_final(s: Scene, text: str) -> Answer | str:
    """The option of ``... So the answer is (B).``, or why there is none."""
    m = FINAL_RE.match(text)
    if not m:
        return 'the final response does not end with "So the answer is (X)."'
    return Answer(m["text"].strip(), m["so"], f"({m['l'].upper()})", None)


@dataclass(frozen=True)
class StepStyle:
    """How a rationale writes and reads its steps. The deduction (which steps, in which order,
    citing what) and its checks are the same in every style; only the words differ."""

    ordering: Callable[[Pattern, Domain], str]  # a pattern as feedback quotes it
    translate: Callable[[Scene, int, Pattern | None], str]  # statement i (as pattern)
    place: Callable[[Scene, list[str], dict[str, int], dict[str, int]], str]  # refs, new, facts
    read: Callable[[Scene, str, str, int, str], str]  # ref, phrase, position, object
    final: Callable[[Scene, str], str]  # the final response choosing an option (its letter)
    option: Callable[[Scene, str], str]  # how "So the answer is" names an option (its letter)
    parse: Callable[[Scene, Sequence[Step]], list[Form]]  # the forms of the numbered steps
    answer: Callable[[Scene, str], Answer | str]  # the final response's option, or why none
    #: place one object per step where the cited steps force several (one the cited statements
    #: name before one they do not, then the lowest position)
    one_place: bool = False


#: the paper's step forms (the examples above this section)
PAPER = StepStyle(
    Pattern.render,
    translate_text,
    place_text,
    read_text,
    final_text,
    option_letter,
    parse_steps,
    read_final,
)


def answer_of(s: Scene) -> str | None:
    sols = solutions(s.objects, s.patterns)
    if len(sols) != 1:
        return None
    holder = [i for i, o in enumerate(s.option_objects) if sols[0][o] == s.asked]
    return s.letter(holder[0]) if len(holder) == 1 else None
