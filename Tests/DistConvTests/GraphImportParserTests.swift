import Testing

@testable import DistConv

@Suite struct GraphImportParserTests {
    func parse(_ text: String) throws(GraphError) -> ChainerGraph { try ChainerGraph(text: text, source: "g.txt") }

    func error(_ text: String) -> GraphError? {
        do { _ = try parse(text) } catch { return error }
        return nil
    }

    @Test func readsTensorsAndOpsWithTheirLines() throws {
        let g = try parse(GraphFixtures.tiny)
        #expect(g.tensors.count == 11 && g.ops.count == 6)
        #expect(g.tensors[2].name == "/predictor/c/W" && g.tensors[2].isParameter && g.tensors[2].line == 4)
        #expect(g.totalBytes == 128 + 8 + 72 + 8 + 256 * 3 + 384 + 12 + 24 + 4)
        #expect(g.parameterBytes == 72 + 8 + 384 + 12)
        #expect(g.ops[0].function == .reshape(shape: [2, -1]) && g.ops[0].line == 13 && g.ops[0].generation == 2)
        guard case .convolution2D(let a) = g.ops[1].function else {
            Issue.record("op 1 is \(g.ops[1].function)"); return
        }
        #expect(a.ph == 1 && a.groups == nil && a.coverAll == false)
        #expect(g.ops[5].phase == .backward && g.ops[5].inputs.map(\.role) == [.gradient, .output])
    }

    @Test func truncatedFileNamesTheLineAfterTheLast() {
        let lines = GraphFixtures.tiny.split(separator: "\n")
        let cut = lines.prefix(30).joined(separator: "\n")
        let e = error(cut)
        #expect(e?.line == 31)
        #expect(e?.problem.contains("the file ends here") == true)
    }

    @Test func headerCountsMustMatchTheBlocks() {
        let more = error(GraphFixtures.tiny(replacingLine: 1, with: "11 7"))
        #expect(more?.line == 55 && more?.problem.contains("op 7 of 7") == true)
        let fewer = error(GraphFixtures.tiny(replacingLine: 1, with: "11 5"))
        #expect(fewer?.line == 48 && fewer?.problem.contains("expected the end of the file") == true)
        let tensors = error(GraphFixtures.tiny(replacingLine: 1, with: "12 6"))
        #expect(tensors?.line == 13 && tensors?.problem.contains("tensor 12 of 12") == true)
        #expect(error(GraphFixtures.tiny(replacingLine: 1, with: "eleven 6"))?.line == 1)
    }

    @Test func inputCountMustMatchTheListedInputs() {
        // The conv says 4 inputs but lists 3: its output id is read as a 4th input.
        let e = error(GraphFixtures.tiny(replacingLine: 20, with: "4 1"))
        #expect(e?.line == 24 && e?.problem.contains("input 4 of 4") == true)
    }

    @Test func unknownOpTypeNamesTheLine() {
        let e = error(GraphFixtures.tiny(replacingLine: 38, with: "LeakyReLU"))
        #expect(e?.line == 38 && e?.problem.contains("unknown op type 'LeakyReLU'") == true)
    }

    @Test func badAttributesNameTheLineAndField() {
        #expect(error(GraphFixtures.tiny(replacingLine: 26, with: "{\"sy\": 1,, }"))?.line == 26)
        let missing = error(GraphFixtures.tiny(replacingLine: 26, with: "{\"sx\": 1, \"ph\": 1, \"pw\": 1}"))
        #expect(missing?.line == 26 && missing?.problem.contains("'sy'") == true)
        let wrongType = error(GraphFixtures.tiny(replacingLine: 18, with: "{\"shape\": \"flat\"}"))
        #expect(wrongType?.line == 18 && wrongType?.problem.contains("shape") == true)
        #expect(error(GraphFixtures.tiny(replacingLine: 18, with: "[2, -1]"))?.problem.contains("JSON object") == true)
    }

    @Test func tensorIdsMustBeInRangeAndUnique() {
        let input = error(GraphFixtures.tiny(replacingLine: 21, with: "11 _"))
        #expect(input?.line == 21 && input?.problem.contains("out of range") == true)
        #expect(error(GraphFixtures.tiny(replacingLine: 24, with: "-1"))?.line == 24)
        let listed = error(GraphFixtures.tiny(replacingLine: 3, with: "0 8 1"))
        #expect(listed?.line == 3 && listed?.problem.contains("listed twice") == true)
    }

    @Test func rolesMustFitThePhase() {
        let e = error(GraphFixtures.tiny(replacingLine: 15, with: "5 gradient"))
        #expect(e?.line == 15 && e?.problem.contains("role 'gradient' on a forward op") == true)
    }

    @Test func errorPrintsAsOneLineWithFileAndLine() {
        let e = GraphError(file: "g.txt", line: 7, "expected X, found 'Y'")
        #expect(e.description == "g.txt: line 7: expected X, found 'Y'")
    }
}
