#!/usr/bin/env python3
"""The chaos checkers on hand-made histories: each flags what it should and nothing else."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import checkers  # noqa: E402


def op(kind, key, outcome="ok", client=0, session=0, invoke=0.0, complete=None, **fields):
    o = {"kind": kind, "key": key, "outcome": outcome, "client": client, "session": session,
         "invoke": invoke, "complete": invoke + 0.1 if complete is None else complete,
         "node": "n1"}
    o.update(fields)
    return o


def run(ops, final=None, ryw=False):
    for i, o in enumerate(ops):
        o["index"] = i
    report = checkers.Report()
    if ryw:
        checkers.check_read_your_writes(ops, report)
    else:
        checkers.check_final(ops, final or {}, report)
    return {k: len(v) for k, v in report.violations.items() if v}


C, S, R = "chaos-cnt-pn-0", "chaos-set-or-0", "chaos-reg-lww-0"


class CounterTest(unittest.TestCase):
    def test_bounds(self):
        ops = [op("increment", C, amount=5), op("increment", C, "indeterminate", amount=3),
               op("decrement", C, "indeterminate", amount=2), op("increment", C, "failed", amount=7)]
        for value in (3, 5, 8):  # 5 - 2 .. 5 + 3
            self.assertEqual(run(ops, {C: {"value": value}}), {})
        self.assertEqual(run(ops, {C: {"value": 2}}), {"counter_lost": 1})
        self.assertEqual(run(ops, {C: {"value": 9}}), {"counter_phantom": 1})
        self.assertEqual(run(ops, {}), {"counter_lost": 1})  # absent though 5 - 2 > 0


class SetTest(unittest.TestCase):
    def test_acknowledged_add_kept(self):
        ops = [op("add", S, element="a"), op("add", S, "indeterminate", element="b")]
        self.assertEqual(run(ops, {S: {"elements": ["a"]}}), {})
        self.assertEqual(run(ops, {S: {"elements": ["b"]}}), {"set_add_lost": 1})
        self.assertEqual(run(ops, {S: {"elements": ["a", "z"]}}), {"set_phantom": 1})

    def test_an_add_only_a_corrupted_node_held_is_lost_with_its_disk(self):
        ops = [op("add", S, element="a", invoke=5.0), op("add", S, element="b", invoke=50.0),
               op("add", S, element="c", invoke=51.0, level="quorum")]
        for i, o in enumerate(ops):
            o["index"] = i
        at_risk = checkers.single_copy_before_corruption(ops, [("n1", 52.0)])
        self.assertEqual(at_risk, {1})  # "a" long before the kill, "c" acknowledged by a quorum
        report = checkers.Report()
        checkers.check_final(ops, {S: {"elements": ["c"]}}, report, {}, at_risk)
        self.assertEqual({k: len(v) for k, v in report.violations.items() if v},
                         {"set_add_lost": 1})  # "a"
        self.assertEqual(len(report.lost_with_disk), 1)  # "b"

    def test_an_add_kept_apart_by_a_type_conflict_is_not_lost(self):
        ops = [op("add", S, element="a"), op("add", S, element="b")]
        for i, o in enumerate(ops):
            o["index"] = i
        report = checkers.Report()
        checkers.check_final(ops, {S: {"elements": ["b"]}}, report, {S: {"a"}})
        self.assertEqual({k: len(v) for k, v in report.violations.items() if v}, {})
        self.assertEqual(len(report.kept_apart), 1)
        report = checkers.Report()
        checkers.check_final(ops, {S: {"elements": ["b"]}}, report, {S: {"c"}})
        self.assertEqual({k: len(v) for k, v in report.violations.items() if v},
                         {"set_add_lost": 1})

    def test_remove_after_add(self):
        add = op("add", S, element="a", invoke=0)
        rem = op("remove", S, element="a", invoke=1)
        self.assertEqual(run([add, rem], {S: {"elements": []}}), {})
        self.assertEqual(run([add, rem], {S: {"elements": ["a"]}}), {"set_remove_lost": 1})
        # Another client's remove is concurrent with the add: either answer is right.
        other = op("remove", S, element="a", invoke=1, client=1)
        self.assertEqual(run([op("add", S, element="a"), other], {S: {"elements": ["a"]}}), {})
        # So is one from a later session of the same client.
        later = op("remove", S, element="a", invoke=1, session=1)
        self.assertEqual(run([op("add", S, element="a"), later], {S: {"elements": ["a"]}}), {})
        # An indeterminate remove may or may not have happened.
        maybe = op("remove", S, "indeterminate", element="a", invoke=1)
        for elements in ([], ["a"]):
            self.assertEqual(run([op("add", S, element="a"), maybe], {S: {"elements": elements}}),
                             {})


class RegisterTest(unittest.TestCase):
    def test_values(self):
        w1 = op("write", R, value="v1", invoke=0)
        w2 = op("write", R, value="v2", invoke=1)
        self.assertEqual(run([w1, w2], {R: {"values": ["v2"]}}), {})
        self.assertEqual(run([w1, w2], {R: {"values": ["v1"]}}), {"register_lost": 1})
        self.assertEqual(run([w1, w2], {R: {"values": ["v9"]}}), {"register_phantom": 1})
        # Concurrent writers: either may win.
        w3 = op("write", R, value="v3", invoke=1, client=1)
        self.assertEqual(run([op("write", R, value="v1"), w3], {R: {"values": ["v1"]}}), {})
        # A failed write never shows.
        bad = op("write", R, "failed", value="v4")
        self.assertEqual(run([bad], {R: {"values": ["v4"]}}), {"register_phantom": 1})


class ReadYourWritesTest(unittest.TestCase):
    def test_counter(self):
        ops = [op("increment", C, amount=4, invoke=0), op("read", C, invoke=1, result={"value": 4})]
        self.assertEqual(run(ops, ryw=True), {})
        ops[1]["result"] = {"value": 3}
        self.assertEqual(run(ops, ryw=True), {"ryw_counter": 1})
        # Anyone's decrement may have come first.
        ops.append(op("decrement", C, "indeterminate", client=2, amount=1, invoke=5))
        self.assertEqual(run(ops, ryw=True), {})

    def test_set_and_register(self):
        ops = [op("add", S, element="a", invoke=0), op("read", S, invoke=1, result={"elements": []})]
        self.assertEqual(run(ops, ryw=True), {"ryw_set": 1})
        ops[1]["session"] = 1  # a new session promises nothing
        self.assertEqual(run(ops, ryw=True), {})
        ops = [op("write", R, value="v1", invoke=0), op("write", R, value="v2", invoke=1),
               op("read", R, invoke=2, result={"values": ["v1"]})]
        self.assertEqual(run(ops, ryw=True), {"ryw_register": 1})
        ops[2]["result"] = {"values": ["v9"]}  # someone else's write: fine
        self.assertEqual(run(ops, ryw=True), {})


if __name__ == "__main__":
    unittest.main()
