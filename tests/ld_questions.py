"""Logical-deduction questions shared by the tests of its rationale styles."""

HEADER = (
    "The following paragraphs each describe a set of {} objects arranged in a fixed order. "
    "The statements are logically consistent within each paragraph. "
)
BIRDS = HEADER.format("three") + (
    "On a branch, there are three birds: a blue jay, a quail, and a falcon. The falcon is to the "
    "right of the blue jay. The blue jay is to the right of the quail.\nOptions:\n(A) The blue "
    "jay is the second from the left\n(B) The quail is the second from the left\n(C) The falcon "
    "is the second from the left"
)
