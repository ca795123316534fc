import DistConv
import Foundation
import Testing

/// `schedule.rate(atStep: s)` to 1e-12 relative (exact when `expected` is 0).
func expectRate(
    _ schedule: LearningRateSchedule, _ s: Int, _ expected: Double, sourceLocation: SourceLocation = #_sourceLocation
) {
    let rate = schedule.rate(atStep: s)
    #expect(abs(rate - expected) <= 1e-12 * abs(expected), "step \(s): \(rate), expected \(expected)",
            sourceLocation: sourceLocation)
}

@Suite struct LearningRateScheduleTests {
    @Test func constant() {
        let c = LearningRateSchedule(kind: .constant, baseRate: 0.1)
        for s in [0, 1, 7, 100_000] { #expect(c.rate(atStep: s) == 0.1) }
    }

    @Test func warmUpIsLinearAndReachesTheBaseOnItsLastStep() {
        // base 0.1 over 4 warm-up steps: 0.025, 0.05, 0.075, 0.1, then the base.
        let c = LearningRateSchedule(kind: .constant, baseRate: 0.1, warmupSteps: 4)
        for (s, r) in [(0, 0.025), (1, 0.05), (2, 0.075), (3, 0.1), (4, 0.1), (50, 0.1)] { expectRate(c, s, r) }
        // One warm-up step is the base rate itself.
        expectRate(LearningRateSchedule(kind: .cosine, baseRate: 0.2, warmupSteps: 1, totalSteps: 11), 0, 0.2)
    }

    @Test func stepDecaysAtItsBoundaries() {
        // StepLR(step_size 3, gamma 0.5): steps 0-2 at 0.1, 3-5 at 0.05, 6-8 at 0.025.
        let s = LearningRateSchedule(kind: .step, baseRate: 0.1, stepSize: 3, gamma: 0.5)
        for (i, r) in [(0, 0.1), (2, 0.1), (3, 0.05), (5, 0.05), (6, 0.025), (9, 0.0125)] { expectRate(s, i, r) }
        // The decay counts from the end of the warm-up: 2 warm-up steps shift every boundary by 2.
        let w = LearningRateSchedule(kind: .step, baseRate: 0.1, warmupSteps: 2, stepSize: 3, gamma: 0.5)
        for (i, r) in [(0, 0.05), (1, 0.1), (2, 0.1), (4, 0.1), (5, 0.05), (8, 0.025)] { expectRate(w, i, r) }
        // The default gamma is torch's 0.1.
        expectRate(LearningRateSchedule(kind: .step, baseRate: 0.1, stepSize: 10), 10, 0.01)
    }

    @Test func cosineFollowsTheClosedForm() {
        // base 0.1, T_max 10: 0.1 at 0, half at 5, eta_min at 10 and after.
        let c = LearningRateSchedule(kind: .cosine, baseRate: 0.1, totalSteps: 10)
        for (s, r) in [(0, 0.1), (5, 0.05), (10, 0), (15, 0)] { expectRate(c, s, r) }
        // T_max 4 at step 1: 0.1 * (1 + cos(pi/4)) / 2 = 0.1 * (1 + 0.7071067811865476) / 2.
        expectRate(LearningRateSchedule(kind: .cosine, baseRate: 0.1, totalSteps: 4), 1, 0.08535533905932738)
        // eta_min 0.01: half way is 0.01 + 0.09/2 = 0.055; the end is 0.01.
        let m = LearningRateSchedule(kind: .cosine, baseRate: 0.1, totalSteps: 10, minimumRate: 0.01)
        expectRate(m, 5, 0.055)
        expectRate(m, 12, 0.01)
        // totalSteps counts the warm-up: 2 + 10 steps put the half-way point at step 7.
        let w = LearningRateSchedule(kind: .cosine, baseRate: 0.1, warmupSteps: 2, totalSteps: 12)
        for (s, r) in [(0, 0.05), (1, 0.1), (2, 0.1), (7, 0.05), (12, 0)] { expectRate(w, s, r) }
        // A run no longer than its warm-up still has T_max 1.
        expectRate(LearningRateSchedule(kind: .cosine, baseRate: 0.1, warmupSteps: 3, totalSteps: 2), 3, 0.1)
        expectRate(LearningRateSchedule(kind: .cosine, baseRate: 0.1, warmupSteps: 3, totalSteps: 2), 4, 0)
    }

    @Test func parsesTheCLIForms() throws {
        let c = try LearningRateSchedule.parse("constant", baseRate: 0.1, warmupSteps: 5, totalSteps: 100)
        #expect(c == LearningRateSchedule(kind: .constant, baseRate: 0.1, warmupSteps: 5, totalSteps: 100))
        let s = try LearningRateSchedule.parse("step:30", baseRate: 0.1, warmupSteps: 0, totalSteps: 100)
        #expect(s.kind == .step && s.stepSize == 30 && s.gamma == 0.1)
        let g = try LearningRateSchedule.parse("step:30:0.5", baseRate: 0.1, warmupSteps: 0, totalSteps: 100)
        #expect(g.kind == .step && g.stepSize == 30 && g.gamma == 0.5)
        let k = try LearningRateSchedule.parse("cosine", baseRate: 0.2, warmupSteps: 10, totalSteps: 1000)
        #expect(k == LearningRateSchedule(kind: .cosine, baseRate: 0.2, warmupSteps: 10, totalSteps: 1000))
    }

    @Test func rejectsEverythingElse() {
        func parse(_ text: String) throws(ScheduleError) {
            _ = try LearningRateSchedule.parse(text, baseRate: 0.1, warmupSteps: 0, totalSteps: 10)
        }
        #expect(throws: ScheduleError.unknownKind(text: "linear")) { try parse("linear") }
        #expect(throws: ScheduleError.unknownKind(text: "")) { try parse("") }
        #expect(throws: ScheduleError.unknownKind(text: "Cosine")) { try parse("Cosine") }
        #expect(throws: ScheduleError.invalidStepSize(text: "step:0", size: "0")) { try parse("step:0") }
        #expect(throws: ScheduleError.invalidStepSize(text: "step:x", size: "x")) { try parse("step:x") }
        #expect(throws: ScheduleError.invalidStepSize(text: "step:", size: "")) { try parse("step:") }
        #expect(throws: ScheduleError.invalidGamma(text: "step:10:0", gamma: "0")) { try parse("step:10:0") }
        #expect(throws: ScheduleError.invalidGamma(text: "step:10:abc", gamma: "abc")) { try parse("step:10:abc") }
        #expect(throws: ScheduleError.wrongFieldCount(text: "step", kind: "step")) { try parse("step") }
        #expect(throws: ScheduleError.wrongFieldCount(text: "step:1:2:3", kind: "step")) { try parse("step:1:2:3") }
        #expect(throws: ScheduleError.wrongFieldCount(text: "cosine:5", kind: "cosine")) { try parse("cosine:5") }
    }

    @Test func errorsAreOneLineNamingTheFlag() {
        let cases: [(String, String)] = [
            ("linear", "constant, step:SIZE, step:SIZE:GAMMA or cosine"), ("step:0", "whole number"),
            ("step:x", "'x'"), ("step:10:-1", "positive"), ("cosine:5", "no parameters"), ("step", "step:SIZE"),
        ]
        for (text, fragment) in cases {
            do {
                _ = try LearningRateSchedule.parse(text, baseRate: 0.1, warmupSteps: 0, totalSteps: 10)
                Issue.record("'\(text)' parsed")
            } catch {
                let d = error.description
                #expect(d.hasPrefix("--schedule is '\(text)'"), "\(d)")
                #expect(d.contains(fragment), "\(d)")
                #expect(!d.contains("\n"), "\(d)")
            }
        }
    }

    @Test func roundTripsThroughJSON() throws {
        let s = LearningRateSchedule(kind: .step, baseRate: 0.1, warmupSteps: 3, stepSize: 7, gamma: 0.5, totalSteps: 40)
        #expect(try JSONDecoder().decode(LearningRateSchedule.self, from: JSONEncoder().encode(s)) == s)
    }
}
