from deepdx.dx7 import algorithms as A


def test_structure_matches_the_dx7_manual():
    # algorithm 1: two stacks, 2->1 and 6->5->4->3, feedback on OP6; 2 differs only there (OP2)
    assert A.carriers(1) == (1, 3) and A.edges(1) == {(2, 1), (4, 3), (5, 4), (6, 5)} and A.feedback(1) == (6, 6)
    assert A.edges(2) == A.edges(1) and A.feedback(2) == (2, 2)
    assert A.feedback(4) == (4, 6)  # the one cross-operator loop of 4 (and 6)
    assert A.carriers(5) == (1, 3, 5) and A.depth(5) == 2
    assert A.carriers(16) == (1,) and A.carriers(32) == (1, 2, 3, 4, 5, 6) and A.depth(32) == 1
    assert A.depth(1) == 4 and A.depth(18) == 4
    assert A.carrier_table().sum() == sum(len(A.carriers(a)) for a in A.ALGORITHMS)
