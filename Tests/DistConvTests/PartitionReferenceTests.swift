import DistConv
import Foundation
import Geometry
import Testing
import TestSupport

let examples = packageRoot.appendingPathComponent("examples")
let fixtures = packageRoot.appendingPathComponent("Tests/DistConvTests/Fixtures")

func seedPartition(ranks: Int = 4) throws -> Partition {
    try Partition(model: Model.load(path: examples.appendingPathComponent("seed-tiled.json").path), ranks: ranks)
}

@Suite struct PartitionReferenceTests {
    /// Every fact of the reference dump (rank 1 of 4), cleaned of OCR errors, holds.
    @Test func reproducesEveryFactOfTheReferenceDump() throws {
        let reference = try DumpText(contentsOf: fixtures.appendingPathComponent("partition-dump-rank1.clean.txt"))
        let ours = DumpText(try seedPartition().text(rank: 1))
        #expect(reference.order.count >= 60)
        var facts = 0
        for name in reference.order {
            guard let fields = ours.entries[name] else {
                Issue.record("the dump has \(name); distconv partition does not")
                continue
            }
            for (key, value) in reference.entries[name]! {
                facts += 1
                #expect(fields[key] == value, "\(name).\(key)")
            }
        }
        #expect(facts >= 160)
    }

    @Test func jsonHoldsTheSameFactsAsText() throws {
        let p = try seedPartition()
        let text = DumpText(p.text(rank: 1))
        let json = try JSONSerialization.jsonObject(with: Data(p.json(rank: 1).utf8)) as! [String: Any]
        let tensors = json["tensors"] as! [String: [String: Any]]
        let ops = json["ops"] as! [String: [String: Any]]
        func rect(_ v: Any?) -> String {
            guard let d = v as? [String: [Int]] else { return "None" }
            return fold(Rect(origin: d["origin"]!, size: d["size"]!).description)
        }
        #expect(tensors.count + ops.count == text.order.count)
        for (name, t) in tensors {
            #expect(text.entries[name]?["read_rect"] == rect(t["read_rect"] as Any?), "\(name)")
            #expect(text.entries[name]?["write_rect"] == rect(t["write_rect"] as Any?), "\(name)")
        }
        for (name, o) in ops {
            #expect(text.entries[name]?["dist_result"] == rect(o["dist_result"] as Any?), "\(name)")
            #expect(text.entries[name]?["dist_input"] == (o["dist_input"] == nil ? nil : rect(o["dist_input"] as Any?)), "\(name)")
            #expect(text.entries[name]?["dist_filters"] == (o["dist_filters"] == nil ? nil : rect(o["dist_filters"] as Any?)), "\(name)")
        }
    }

    /// Ranks 0, 1, 2, 3 from the dump's rules, written out by hand: a 2x2 grid numbered H
    /// first; 64 (and 112) rows split evenly, 41 as 21 + 20; tiles of 4 outputs read
    /// 10x10 windows at stride 2; the loss splits the batch of 256 four ways.
    @Test(arguments: 0..<4) func everyRankFollowsTheDumpsRules(rank r: Int) throws {
        let p = try seedPartition()
        let h = r % 2, w = r / 2
        func rect(_ o: [Int], _ s: [Int]) -> Rect { Rect(origin: o, size: s) }
        let dataRows = h == 0 ? 0..<21 : 21..<41, dataCols = w == 0 ? 0..<21 : 21..<41
        #expect(p.op("data").distResult[r] == rect([0, 0, dataRows.lowerBound, dataCols.lowerBound], [256, 1, dataRows.count, dataCols.count]))
        // L0: tiles 8h..<8h+8 read rows 16h ..< 16h+7*2+10.
        #expect(p.tensor("data.raw_output").read[r] == rect([0, 0, 16 * h, 16 * w], [256, 1, 24, 24]))
        #expect(p.tensor("data.raw_output").write[r] == rect([0, 0, 0, 0], [256, 1, 41, 41]))
        #expect(p.tensor("L0.W").read[r] == rect([0, 0, 0, 0, 0, 0, 8 * h, 8 * w], [16, 4, 4, 1, 10, 10, 8, 8]))
        #expect(p.tensor("L0.filter.output").write[r] == rect([0, 0, 32 * h, 32 * w], [256, 16, 32, 32]))
        #expect(p.tensor("L0.b").read[r] == rect([0, 0, 32 * h, 32 * w], [1, 16, 32, 32]))
        // L1: tiles 14h..<14h+14 read rows 28h ..< 28h+13*2+10, clipped to 64.
        let rows1 = (28 * h)..<min(64, 28 * h + 36), cols1 = (28 * w)..<min(64, 28 * w + 36)
        #expect(p.tensor("L0.filterNL.output").read[r] == rect([0, 0, rows1.lowerBound, cols1.lowerBound], [256, 16, rows1.count, cols1.count]))
        #expect(p.tensor("L0.filterNL.output.grad").write[r] == p.tensor("L0.filterNL.output").read[r])
        #expect(p.tensor("L1.W").read[r] == rect([0, 0, 0, 0, 0, 0, 14 * h, 14 * w], [16, 4, 4, 16, 10, 10, 14, 14]))
        #expect(p.tensor("L1.filterNL.output").write[r] == rect([0, 0, 56 * h, 56 * w], [256, 16, 56, 56]))
        #expect(p.tensor("classifier.weights1").read[r] == rect([0, 0, 56 * h, 56 * w], [3034, 16, 56, 56]))
        #expect(p.tensor("classifier.linear1.output").write[r] == rect([0, 0, 0, 0], [256, 3034, 1, 1]))
        #expect(p.tensor("classifier.linear1.output").isPartialSum)
        #expect(p.tensor("classifier.linear1.output").read[r] == rect([64 * r, 0, 0, 0], [64, 3034, 1, 1]))
        #expect(p.tensor("data.labels_output").read[r] == rect([64 * r, 0, 0, 0], [64, 1, 1, 1]))
        #expect(p.tensor("classifier.softmax.probability").write[r] == rect([64 * r, 0, 0, 0], [64, 3034, 1, 1]))
        #expect(p.op("classifier.softmax.grad").distResult[r] == rect([64 * r, 0, 0, 0], [64, 3034, 1, 1]))
        #expect(p.tensor("L0.a.grad").read[r] == rect([0], [1]))
    }

    /// Write rects of a tensor tile it (or each rank writes it whole); read rects cover
    /// what every consumer's input needs.
    @Test func writesTileEveryActivation() throws {
        for file in ["seed-tiled.json", "fashion-cnn.json"] {
            let p = try Partition(model: Model.load(path: examples.appendingPathComponent(file).path), ranks: 4)
            for t in p.tensors where t.role == .activation && !t.isPartialSum {
                let writes = t.write.compactMap { $0 }
                let whole = Rect(shape: t.dim)
                let total = writes.map(\.volume).reduce(0, +)
                #expect(total == whole.volume, "\(file) \(t.name): writes hold \(total) of \(whole.volume)")
                for (i, a) in writes.enumerated() { for b in writes[(i + 1)...] { #expect(!a.intersects(b), "\(t.name)") } }
            }
            for op in p.ops { for access in op.reads where p.hasTensor(access.tensor) {
                let t = p.tensor(access.tensor)
                for r in 0..<4 where !access.rects[r].isEmpty {
                    #expect(t.storage(rank: r)?.contains(access.rects[r]) == true, "\(op.name) reads \(access.tensor) outside rank \(r)'s storage")
                }
            } }
        }
    }
}
